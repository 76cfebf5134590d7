/**
 * Shell for the TensorRT engine cache of the Triton pod (design: docs/performance.md, "Engine cache").
 *
 * ONNX Runtime writes engines into `trt_engine_cache_path` (a directory in the pod's /tmp emptyDir) with a plain
 * ofstream, not atomically, so several pods must not write one shared directory. Instead:
 * - before Triton starts, the Triton container copies the engines of its key from the cache volume into the local
 *   directory (`restoreScript`) and logs how many it restored;
 * - a sidecar copies every engine that appears locally and has not changed for a minute back to the volume under a
 *   temporary name and renames it into place (`syncScript`), one log line per engine: the pod built it.
 * The key is `<model version>_<GPU product>_triton-<image tag>`: engines only fit the model, GPU and TensorRT /
 * ONNX Runtime release that built them (onnxruntime docs, TensorRT-ExecutionProvider.md, "trt_engine_cache_enable").
 *
 * No `${` or `%{` may appear in these strings: Terraform would read them as interpolation.
 */

export interface EngineCachePaths {
  /** Mount path of the cache volume. */
  readonly cacheRoot: string;
  /** The directory the published configs name as trt_engine_cache_path. */
  readonly localDir: string;
}

/** File holding the key, written by the Triton container for the sidecar. */
const keyFile = (paths: EngineCachePaths) => `${paths.localDir}.key`;
/** Marks that Triton started in this pod; /tmp survives container restarts. */
const startedFile = (paths: EngineCachePaths) => `${paths.localDir}.started`;

/**
 * Runs in the Triton container (it sees the GPU). `keySuffix` is the part known at synth time after the GPU product.
 */
export function restoreScript(paths: EngineCachePaths, modelVersion: string, keySuffix: string): string {
  const { cacheRoot, localDir } = paths;
  return [
    // nvidia-smi is mounted by the NVIDIA container runtime; names become label-like (NVIDIA A10G -> NVIDIA-A10G).
    `GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 | tr -c 'A-Za-z0-9._\\n-' '-' | tr -d '\\n')`,
    `[ -n "$GPU" ] || GPU=unknown-gpu`,
    `KEY=${modelVersion}_"$GPU"_${keySuffix}`,
    `mkdir -p "${cacheRoot}/$KEY" "${localDir}"`,
    // A key directory's mtime marks its last use; the sidecar prunes the ones nobody used for a while.
    `touch "${cacheRoot}/$KEY"`,
    // /tmp outlives a container restart: if Triton already started in this pod, it died, possibly on a damaged
    // engine, so this start rebuilds from scratch; the sidecar then overwrites the cached copies with the new ones.
    `if [ -e "${startedFile(paths)}" ]; then rm -rf "${localDir}"; mkdir -p "${localDir}"; ` +
      `echo "{\\"event\\":\\"trt-engine-cache-bypassed\\",\\"key\\":\\"$KEY\\",\\"reason\\":\\"Triton restarted in this pod: engines are rebuilt, not restored\\"}"; ` +
      `else RESTORED=0; for f in "${cacheRoot}/$KEY"/*; do [ -f "$f" ] || continue; cp -p "$f" "${localDir}/" && RESTORED=$((RESTORED + 1)); done; ` +
      `echo "{\\"event\\":\\"trt-engine-cache-restored\\",\\"key\\":\\"$KEY\\",\\"files\\":$RESTORED}"; fi`,
    `touch "${startedFile(paths)}"`,
    `echo "$KEY" > "${keyFile(paths)}"`,
  ].join('; ');
}

export interface SyncOptions {
  /** Seconds between scans. */
  readonly intervalSeconds: number;
  /** Key directories untouched for this many days are removed. */
  readonly retentionDays: number;
  /** Scan once and exit (tests); the sidecar loops until SIGTERM, then scans a last time. */
  readonly once?: boolean;
}

/** Runs in the sidecar; copies engines built in this pod to the volume, atomically, and logs each. */
export function syncScript(paths: EngineCachePaths, options: SyncOptions): string {
  const { cacheRoot, localDir } = paths;
  const store = [
    'store() {',
    `for f in "${localDir}"/*; do`,
    '[ -f "$f" ] || continue',
    'name=$(basename "$f")',
    `target="${cacheRoot}/$KEY/$name"`,
    // Only files unchanged for a minute: ONNX Runtime may still be writing a fresh engine.
    '[ -n "$(find "$f" -mmin +1)" ] || continue',
    // Restored files keep the cache's mtime (cp -p), so only new or rebuilt engines are newer than their copy.
    'if [ ! -f "$target" ] || [ "$f" -nt "$target" ]; then',
    `tmp="${cacheRoot}/$KEY/.$name.$HOSTNAME.tmp"`,
    'if cp -p "$f" "$tmp" && mv -f "$tmp" "$target"; then',
    `echo "{\\"event\\":\\"trt-engine-built\\",\\"key\\":\\"$KEY\\",\\"file\\":\\"$name\\",\\"bytes\\":$(wc -c < "$target")}"`,
    'else rm -f "$tmp"; echo "{\\"event\\":\\"trt-engine-cache-write-failed\\",\\"file\\":\\"$name\\"}" >&2; fi',
    'fi',
    'done',
    '}',
  ].join('\n');
  const loop = options.once
    ? 'store'
    : [
        `trap 'store; exit 0' TERM INT`,
        `while true; do store; sleep ${options.intervalSeconds} & wait $!; done`,
      ].join('\n');
  return [
    `while [ ! -s "${keyFile(paths)}" ]; do sleep 2; done`,
    `KEY=$(cat "${keyFile(paths)}")`,
    `find "${cacheRoot}" -mindepth 1 -maxdepth 1 -type d -mtime +${options.retentionDays} -exec rm -rf {} + 2>/dev/null || true`,
    store,
    loop,
  ].join('\n');
}
