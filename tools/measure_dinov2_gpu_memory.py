# Usage, on a machine with a CUDA GPU, PyTorch and timm: OUT=DIR python3 tools/measure_dinov2_gpu_memory.py (writes DIR/sizing.json).
# Device measurement for sizing (issue 20): GPU and host memory of a CUDA inference process running DINOv2 ViT-B/14
# (timm architecture, random weights: no hub here) at the ensemble's default input (630 x 462) and at throughput-mode
# batches, plus process host RSS after CUDA/cuDNN/cuBLAS initialisation. Weights are random; memory does not depend on values.
import json, os, resource, time, sys
import torch, timm
out = {}
def rss_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024
def hwm_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'): return int(line.split()[1]) / 1024
out['torch'] = torch.__version__; out['timm'] = timm.__version__; out['gpu'] = torch.cuda.get_device_name(0)
out['rss_start_mib'] = rss_mib()
torch.zeros(1, device='cuda'); torch.backends.cudnn.benchmark = False
out['rss_after_cuda_init_mib'] = rss_mib()
try:
    model = timm.create_model('vit_base_patch14_dinov2', pretrained=False, img_size=(462, 630), num_classes=0).eval()
except Exception as error:
    out['create_error'] = repr(error)
    model = timm.create_model('vit_base_patch14_dinov2', pretrained=False, num_classes=0, dynamic_img_size=True).eval()
out['dinov2_params'] = sum(p.numel() for p in model.parameters())
out['dinov2_fp32_weights_mib'] = out['dinov2_params'] * 4 / 2**20
model = model.cuda()
res = {}
for dtype in ['fp32', 'fp16']:
    m = model if dtype == 'fp32' else model.half()
    for batch in [1, 4, 8]:
        torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        x = torch.randn(batch, 3, 462, 630, device='cuda', dtype=torch.float32 if dtype == 'fp32' else torch.float16)
        try:
          with torch.inference_mode():
            for _ in range(2): y = m.forward_features(x)
            torch.cuda.synchronize(); t = time.perf_counter()
            for _ in range(10): y = m.forward_features(x)
            torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 10
        except Exception as error:
            res[f'{dtype}_b{batch}'] = repr(error); continue
        res[f'{dtype}_b{batch}'] = {'peak_alloc_mib': torch.cuda.max_memory_allocated() / 2**20, 'peak_reserved_mib': torch.cuda.max_memory_reserved() / 2**20, 'ms_per_batch': dt * 1000, 'out_shape': list(y.shape)}
        del x, y
out['dinov2'] = res
out['rss_after_inference_mib'] = rss_mib(); out['rss_peak_mib'] = hwm_mib()
import subprocess
out['nvidia_smi'] = subprocess.run(['nvidia-smi', '--query-gpu=memory.used,memory.total', '--format=csv'], capture_output=True, text=True).stdout
print(json.dumps(out, indent=1))
json.dump(out, open(os.path.join(os.environ.get('OUT', '.'), 'sizing.json'), 'w'), indent=1)
