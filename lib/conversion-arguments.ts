/**
 * The conversion program's command-line arguments (scripts/omniglue_conversion/cli.py), built from the Job's
 * settings. Two kinds, kept apart because only the first is part of the model version's hash: arguments that change
 * the published files, and limits on how the run behaves.
 */
import { throughputArguments, ThroughputMode } from './throughput-mode';

/**
 * Exit codes of failures that fail again on every retry (scripts/omniglue_conversion/errors.py): usage (2), checksum
 * (4), export (5), contract (6) and sample inference (7). Downloads (3), publishing (8), the lock (9) and unexpected
 * errors (1) may be transient and keep their retries.
 */
export const NON_RETRYABLE_EXIT_CODES = [2, 4, 5, 6, 7] as const;
export const WEIGHT_NAMES = ['superpoint', 'dinov2', 'omniglue'] as const;
export type WeightName = (typeof WEIGHT_NAMES)[number];

export interface WeightSource {
  /** Download URL (https:// or file://). @default - the pinned official URL in the conversion script */
  readonly url?: string;
  /** Expected sha256; the Job fails on a mismatch. @default - recorded in the manifest, not verified */
  readonly sha256?: string;
}

export interface ModelArguments {
  readonly weights: Partial<Record<WeightName, WeightSource>>;
  readonly minSampleMatches: number;
  readonly tensorrtFp16: boolean;
  readonly tensorrtMaxImageSide: number;
  readonly cpuOnlyInstances: boolean;
  readonly throughputMode: ThroughputMode | undefined;
}

/** Arguments that change the published files: each one is part of the model version's hash. */
export function modelArguments(settings: ModelArguments): string[] {
  const args = ['--min-sample-matches', String(settings.minSampleMatches)];
  for (const name of WEIGHT_NAMES) {
    const source = settings.weights[name];
    if (source?.url !== undefined) args.push('--weights-url', `${name}=${source.url}`);
    if (source?.sha256 !== undefined) args.push('--weights-sha256', `${name}=${source.sha256}`);
  }
  if (settings.tensorrtFp16) args.push('--tensorrt-fp16', '--tensorrt-max-image-side', String(settings.tensorrtMaxImageSide));
  if (settings.cpuOnlyInstances) args.push('--instance-kind', 'cpu');
  if (settings.throughputMode) args.push(...throughputArguments(settings.throughputMode));
  return args;
}

/**
 * The program's own limits, which end a stalled download or a wait for another Job's lock with a message and an exit
 * code (3, 9) well before the Job's deadline kills the pod without one: downloads get half the deadline, the lock a
 * quarter, and the rest is left for the conversion itself.
 */
export function runLimitArguments(timeoutMinutes: number): string[] {
  return ['--download-timeout-seconds', String(Math.floor(timeoutMinutes * 30)), '--lock-timeout-seconds', String(Math.floor(timeoutMinutes * 15))];
}
