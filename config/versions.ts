/**
 * Every pinned version the stack deploys, in one place so an upgrade is a one-line, reviewable change.
 * Users override the chart versions and image tags in omniglue.config.json; these are the defaults.
 */
export const VERSIONS = {
  /** nvidia-device-plugin chart from https://nvidia.github.io/k8s-device-plugin */
  nvidiaDevicePluginChart: '0.18.0',
  /** kube-prometheus-stack chart from https://prometheus-community.github.io/helm-charts */
  kubePrometheusStackChart: '81.6.2',
  /** prometheus-adapter chart from https://prometheus-community.github.io/helm-charts */
  prometheusAdapterChart: '5.3.0',
  /** nvcr.io/nvidia/tritonserver tag; the `-py3` images ship the ONNX Runtime backend with CUDA and TensorRT. */
  tritonImageTag: '26.06-py3',
  /** Image the conversion Job runs in; dependencies are pip-installed from scripts/requirements-conversion.txt. */
  conversionImage: 'python:3.11.11-slim-bookworm',
} as const;

export const HELM_REPOSITORIES = {
  nvidiaDevicePlugin: 'https://nvidia.github.io/k8s-device-plugin',
  prometheusCommunity: 'https://prometheus-community.github.io/helm-charts',
} as const;

export const TRITON_IMAGE_REPOSITORY = 'nvcr.io/nvidia/tritonserver';
