"""DINOv2 ViT-B/14 to ONNX with dynamic height and width, fitted to its contract entry.

The network is defined here rather than loaded through torch.hub: the layer
layout is that of facebookresearch/dinov2 (as vendored by the OmniGlue
reference in third_party/dinov2), so the official state dict loads with
strict=True (any layout difference fails loudly), and the Job needs no second
download of source code and runs in air-gapped clusters.

The output is what the reference computes with
`get_intermediate_layers(x, n=1, reshape=True, norm=True)[0]`: the last block's
normalised patch tokens as a [1, 768, H/14, W/14] grid.

Position embeddings: DINOv2 interpolates its 37x37 grid (trained at 518 px)
bicubically with `scale_factor=((h+0.1)/37, (w+0.1)/37)`, computed in Python
floats. torch.onnx tracing freezes those floats to the export resolution, so
the exported model silently works at one size only (facebookresearch/dinov2
#19, #216). Interpolating with an explicit size would fix the shape but move
the sampling grid (scale 37/h instead of 37/(h+0.1)), so features would drift
from the reference. Instead, `_PosEmbedResize` keeps the reference arithmetic
in eager mode and exports an ONNX Resize whose scales are computed from the
input's shape at run time, sampling exactly where the reference does.

The traced graph then goes through onnx_io.fit_to_contract, as the tf2onnx
exports do, so the interface carries the contract's dims: [1, 3, -1, -1] ->
[1, 768, -1, -1] by default; in throughput mode [-1, 3, Hd, Wd] ->
[-1, 768, Hd/14, Wd/14], since Triton compares output dims exactly
(onnxruntime_backend src/onnxruntime_utils.cc CompareDimsSupported).
"""

from __future__ import annotations

import inspect
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .contract import ModelSpec
from .errors import ExportError
from .logs import StageLogger
from .onnx_io import fit_to_contract

OPSET = 17
PATCH_SIZE = 14
# DINOv2 adds this to the target grid size so float rounding cannot shrink the
# interpolated grid by one (facebookresearch/dino#8).
INTERPOLATE_OFFSET = 0.1


class _PosEmbedResize(torch.autograd.Function):
    """Bicubic resize of the position grid to the patch grid of `pixels`."""

    @staticmethod
    def forward(ctx, grid: torch.Tensor, pixels: torch.Tensor, side: int, patch: int, offset: float) -> torch.Tensor:  # type: ignore[override]
        # Plain ints: under tracing this body is replaced by symbolic() anyway.
        rows, cols = int(pixels.shape[-2]) // patch, int(pixels.shape[-1]) // patch
        if rows == side and cols == side:
            return grid.clone()
        scale = ((rows + offset) / side, (cols + offset) / side)
        return F.interpolate(grid, scale_factor=scale, mode="bicubic", align_corners=False)

    @staticmethod
    def symbolic(g, grid, pixels, side: int, patch: int, offset: float):  # type: ignore[no-untyped-def]
        const = lambda values, dtype: g.op("Constant", value_t=torch.tensor(values, dtype=dtype))  # noqa: E731
        shape = g.op("Shape", pixels)
        hw = g.op("Slice", shape, const([2], torch.int64), const([4], torch.int64), const([0], torch.int64))
        patches = g.op("Div", hw, const([patch], torch.int64))
        # The reference skips the resize when the grid already fits; a scale of
        # exactly 1.0 makes Resize an identity, so the offset is zeroed then.
        fits = g.op("Equal", patches, const([side], torch.int64))
        both_fit = g.op("Cast", g.op("ReduceMin", g.op("Cast", fits, to_i=6), keepdims_i=1), to_i=1)
        effective_offset = g.op("Mul", const([offset], torch.float32), g.op("Sub", const([1.0], torch.float32), both_fit))
        target = g.op("Add", g.op("Cast", patches, to_i=1), effective_offset)
        scales_hw = g.op("Div", target, const([float(side)], torch.float32))
        scales = g.op("Concat", const([1.0, 1.0], torch.float32), scales_hw, axis_i=0)
        roi = const([], torch.float32)
        return g.op(
            "Resize", grid, roi, scales,
            mode_s="cubic",
            cubic_coeff_a_f=-0.75,
            coordinate_transformation_mode_s="half_pixel",
            exclude_outside_i=0,
        )


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(batch, tokens, dim))


class _LayerScale(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, heads)
        self.ls1 = _LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = _LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class _PatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)


class DinoV2Features(nn.Module):
    """pixel_values [1, 3, H, W] (H, W multiples of 14) -> features [1, dim, H/14, W/14]."""

    def __init__(
        self, *, dim: int = 768, depth: int = 12, heads: int = 12, mlp_ratio: float = 4.0,
        patch: int = PATCH_SIZE, train_size: int = 518,
    ) -> None:
        super().__init__()
        self.patch = patch
        grid = train_size // patch
        self.patch_embed = _PatchEmbed(patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        # Unused at inference; present so the official state dict loads strictly.
        self.mask_token = nn.Parameter(torch.zeros(1, dim))
        self.blocks = nn.ModuleList(_Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def position_embedding(self, pixels: torch.Tensor) -> torch.Tensor:
        dim = self.pos_embed.shape[-1]
        side = int(math.isqrt(self.pos_embed.shape[1] - 1))
        cls_pos = self.pos_embed[:, :1]
        grid = self.pos_embed[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
        grid = _PosEmbedResize.apply(grid, pixels, side, self.patch, INTERPOLATE_OFFSET)
        return torch.cat((cls_pos, grid.flatten(2).transpose(1, 2)), dim=1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embed.proj(pixel_values)  # [B, dim, H/14, W/14]
        tokens = patches.flatten(2).transpose(1, 2)
        tokens = torch.cat((self.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        tokens = tokens + self.position_embedding(pixel_values)
        for block in self.blocks:
            tokens = block(tokens)
        tokens = self.norm(tokens)[:, 1:]
        # Same layout as reshape(B, h, w, dim).permute(0, 3, 1, 2); the shape comes
        # from the conv output so the exported Reshape stays dynamic.
        return tokens.transpose(1, 2).reshape(patches.shape)


def load_dinov2_vitb14(state_dict_path: Path) -> DinoV2Features:
    model = DinoV2Features()
    try:
        # weights_only: the file comes from the internet; a state dict needs no pickled code.
        state = torch.load(str(state_dict_path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and runtime errors here
        raise ExportError(f"cannot read the DINOv2 state dict {state_dict_path}: {exc}") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ExportError(
            f"{state_dict_path} does not fit ViT-B/14 without registers "
            f"(dinov2_vitb14_pretrain.pth expected): {exc}"
        ) from exc
    return model.eval()


def export_features_model(
    model: nn.Module, output: Path, *, sample_hw: tuple[int, int] = (448, 602), batch_axis: bool = False
) -> Path:
    """Exports with dynamic H/W; `sample_hw` only seeds the trace.

    `batch_axis` makes dim 0 dynamic too, for throughput mode's batching config (max_batch_size > 0,
    whose ONNX graph needs a dynamic leading dim); the trace is then seeded with a batch of two, so no
    batch size of one can be folded into the graph as a constant."""
    output.parent.mkdir(parents=True, exist_ok=True)
    sample = torch.zeros(2 if batch_axis else 1, 3, *sample_hw)
    axes = {"pixel_values": {2: "height", 3: "width"}, "features": {2: "grid_height", 3: "grid_width"}}
    if batch_axis:
        axes = {name: {0: "batch", **dims} for name, dims in axes.items()}
    kwargs = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter honours autograd.Function.symbolic
    with torch.no_grad(), warnings.catch_warnings():
        # Expected: the int() in _PosEmbedResize.forward (replaced by its symbolic)
        # and exporter deprecation notices that differ between torch releases.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            model.eval(), (sample,), str(output),
            input_names=["pixel_values"], output_names=["features"],
            dynamic_axes=axes,
            opset_version=OPSET, do_constant_folding=True, **kwargs,
        )
    return output


def export_for_contract(
    model: nn.Module, spec: ModelSpec, output: Path, log: StageLogger, *, sample_hw: tuple[int, int] = (448, 602)
) -> Path:
    """Exports `model` and declares `spec`'s dims on the graph; a batching spec (throughput mode's
    max_batch_size > 0) gets a batch axis, which DinoV2Features computes per image."""
    batch_axis = spec.max_batch_size > 0
    export_features_model(model, output, sample_hw=sample_hw, batch_axis=batch_axis)
    log.event("export", "torch-onnx-done", model=spec.name, opset=OPSET, batch_axis=batch_axis)
    fit_to_contract(output, spec, log)
    return output


def export_dinov2(state_dict_path: Path, spec: ModelSpec, work_dir: Path, log: StageLogger) -> Path:
    return export_for_contract(load_dinov2_vitb14(state_dict_path), spec, work_dir / "dinov2.onnx", log)
