/**
 * Throughput mode of the published models (docs/performance.md, "Throughput mode"): DINOv2's input gets one fixed
 * size, the one the reference gives an image of the configured size, so `dinov2` can batch (`max_batch_size` > 0,
 * `dynamic_batching`) and Triton merges its work across concurrent ensemble requests. SuperPoint keeps the
 * reference's per-image resolution: the sp_v6 SavedModel is built for a batch of one. The conversion program does
 * the rewriting (scripts/omniglue_conversion/throughput.py); this module owns the settings and the flags that select it.
 */

import type { DeliberateQueueDelay } from './triton-metrics';
import { UnscopedValidationError } from './validation-error';

/** The settings; the conversion Job's defaults apply to the optional ones. */
export interface ThroughputMode {
  /** Width (px) of the image size DINOv2's fixed input derives from (640 → 630 for 640 × 480), 14–4096. */
  readonly imageWidth: number;
  /** Height (px) of that image size, 14–4096; the longer side at most 45 times the shorter. */
  readonly imageHeight: number;
  /**
   * Most requests one DINOv2 execution merges, 1–64.
   * @default 8
   */
  readonly maxBatchSize?: number;
  /**
   * How long the batcher may hold a request to fill a batch, 0–1,000,000 µs.
   * @default 1000
   */
  readonly maxQueueDelayMicroseconds?: number;
}

export const THROUGHPUT_DEFAULTS = { maxBatchSize: 8, maxQueueDelayMicroseconds: 1000 } as const;

/** Bounds of the settings, shared by the configuration schema and the construct. */
export const THROUGHPUT_LIMITS = {
  imageSide: { min: 14, max: 4096 },
  maxBatchSize: { min: 1, max: 64 },
  maxQueueDelayMicroseconds: { min: 0, max: 1_000_000 },
} as const;

/**
 * DINOv2's input caps the longer side at 630 px and rounds both down to 14-px patches (google-research/omniglue
 * dino_extract.py `_resize_input_image`), so the shorter side keeps a patch exactly when the aspect ratio is at most
 * 630 / 14 = 45 (docs/model-repository.md, "Input limits").
 */
export const MAX_ASPECT_RATIO = 45;

export function withinDinoAspectLimit(width: number, height: number): boolean {
  return Math.max(width, height) <= MAX_ASPECT_RATIO * Math.min(width, height);
}

/** What is wrong with an image size whose aspect ratio DINOv2 cannot take, named as the caller names its sides. */
export function aspectRatioProblem(width: number, height: number, names: { readonly imageWidth: string; readonly imageHeight: string }): string | undefined {
  if (withinDinoAspectLimit(width, height)) return undefined;
  return `${names.imageWidth} x ${names.imageHeight} (${width} x ${height}) must have an aspect ratio of at most ${MAX_ASPECT_RATIO}:1: DINOv2 needs one 14-px patch on the shorter side`;
}

function checkInteger(setting: string, value: number, min: number, max: number, extra = ''): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UnscopedValidationError(`throughputMode.${setting} (${value}) must be a whole number between ${min} and ${max}${extra}`);
  }
}

/** The mode with defaults filled in; throws naming the setting and its allowed values. */
export function resolveThroughputMode(mode: ThroughputMode): Required<ThroughputMode> {
  const resolved = { ...THROUGHPUT_DEFAULTS, ...mode };
  const { imageSide, maxBatchSize, maxQueueDelayMicroseconds } = THROUGHPUT_LIMITS;
  for (const side of ['imageWidth', 'imageHeight'] as const) checkInteger(side, resolved[side], imageSide.min, imageSide.max, ' (pixels)');
  const aspect = aspectRatioProblem(resolved.imageWidth, resolved.imageHeight, { imageWidth: 'throughputMode.imageWidth', imageHeight: 'imageHeight' });
  if (aspect !== undefined) throw new UnscopedValidationError(aspect);
  checkInteger('maxBatchSize', resolved.maxBatchSize, maxBatchSize.min, maxBatchSize.max);
  checkInteger('maxQueueDelayMicroseconds', resolved.maxQueueDelayMicroseconds, maxQueueDelayMicroseconds.min, maxQueueDelayMicroseconds.max);
  return resolved;
}

/** The conversion program's flags for the mode (scripts/omniglue_conversion/cli.py and render_configs.py). */
export function throughputArguments(mode: ThroughputMode): string[] {
  const resolved = resolveThroughputMode(mode);
  return [
    '--throughput-image-size', `${resolved.imageWidth}x${resolved.imageHeight}`,
    '--throughput-max-batch-size', String(resolved.maxBatchSize),
    '--throughput-max-queue-delay-microseconds', String(resolved.maxQueueDelayMicroseconds),
  ];
}

/** The model the throughput mode makes batch (scripts/omniglue_conversion/throughput.py BATCHING_MODELS). */
export const BATCHING_MODEL = 'dinov2';

/** The batcher's deliberate wait, whose most possible share of the queue ratio the dashboard shows; undefined when the mode is off. */
export function deliberateQueueDelay(mode: ThroughputMode | undefined): DeliberateQueueDelay | undefined {
  return mode === undefined ? undefined : { model: BATCHING_MODEL, microseconds: resolveThroughputMode(mode).maxQueueDelayMicroseconds };
}

/**
 * The fastest DINOv2 execution per request to expect: 336 GFLOP per 630 x 462 image (docs/performance.md, "A per-GPU
 * ceiling") at a third of an H100's 989 dense FP16 TFLOPS with TensorRT, about 1 ms. Slower GPUs take longer.
 */
export const FASTEST_BATCHING_COMPUTE_MICROSECONDS = 1000;

/**
 * A warning when the batcher's delay could, by itself, hold the HPA's queue/compute ratio at its target: the ratio
 * includes the batcher's wait (lib/triton-metrics.ts queueToComputeRatioQuery), at most `delay / dinov2's compute time
 * per request` of it, so with a delay above target x the fastest compute time an idle pod may read the target.
 */
export function batcherDelayWarning(delayMicroseconds: number, targetRatio: number): string | undefined {
  if (delayMicroseconds <= targetRatio * FASTEST_BATCHING_COMPUTE_MICROSECONDS) return undefined;
  return (
    `conversion.throughputMode.maxQueueDelayMicroseconds (${delayMicroseconds}) can add up to ${delayMicroseconds} µs per ${BATCHING_MODEL} request to the queue time ` +
    `the HPA's queue/compute ratio reads (autoscaling.queueToComputeRatio.target ${targetRatio}); where ${BATCHING_MODEL} computes a request in less than ` +
    `${Math.round(delayMicroseconds / targetRatio)} µs, the delay alone can hold the ratio at its target and the HPA would not scale back. ` +
    'Keep the delay well below dinov2\'s compute time (npm run loadtest shows both), or set autoscaling.queueToComputeRatio.enabled to false (docs/metrics.md)'
  );
}
