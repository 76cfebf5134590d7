/**
 * Throughput mode of the published models (docs/performance.md, "Throughput mode"): every image is resized to one
 * resolution before SuperPoint and DINOv2, whose configs then batch (`max_batch_size` > 0, `dynamic_batching`), so
 * Triton merges their work across concurrent ensemble requests. The conversion program does the rewriting
 * (scripts/omniglue_conversion/throughput.py); this module owns the settings and the flags that select it.
 */

/** The settings; the conversion Job's defaults apply to the optional ones. */
export interface ThroughputMode {
  /** Width (px) every image is resized to before SuperPoint and DINOv2: a multiple of 8, 16–4096. */
  readonly imageWidth: number;
  /** Height (px) every image is resized to: a multiple of 8, 16–4096. */
  readonly imageHeight: number;
  /**
   * Most requests one SuperPoint or DINOv2 execution merges, 1–64.
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

function checkInteger(setting: string, value: number, min: number, max: number, extra = ''): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`throughputMode.${setting} (${value}) must be a whole number between ${min} and ${max}${extra}`);
  }
}

/** The mode with defaults filled in; throws naming the setting and its allowed values. */
export function resolveThroughputMode(mode: ThroughputMode): Required<ThroughputMode> {
  const resolved = { ...THROUGHPUT_DEFAULTS, ...mode };
  for (const side of ['imageWidth', 'imageHeight'] as const) {
    checkInteger(side, resolved[side], 16, 4096, ' (pixels)');
    if (resolved[side] % 8 !== 0) throw new Error(`throughputMode.${side} (${resolved[side]}) must be a multiple of 8 (SuperPoint's 8 x 8 cells)`);
  }
  checkInteger('maxBatchSize', resolved.maxBatchSize, 1, 64);
  checkInteger('maxQueueDelayMicroseconds', resolved.maxQueueDelayMicroseconds, 0, 1_000_000);
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
