/** onnxruntime-node in Jest: the realm fix every ORT suite needs, and tensor helpers. */
import * as ort from 'onnxruntime-node';

// onnxruntime-node returns typed arrays of Node's main realm, which fail `instanceof` against the
// Jest sandbox's constructors when the output Tensor is built (microsoft/onnxruntime#16622).
for (const ctor of [Float32Array, Uint8Array, Int32Array, BigInt64Array]) {
  const tag = `[object ${ctor.name}]`;
  Object.defineProperty(ctor, Symbol.hasInstance, {
    value: (v: unknown) => ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === tag,
    configurable: true,
  });
}

export { ort };

/**
 * Same type, dims and bytes: bit-identical tensors. Compared as bytes because Jest's toEqual, or indexing typed
 * arrays of mixed element types in one loop, takes seconds on tensors of a megapixel image.
 */
export function identicalTensors(a: ort.Tensor, b: ort.Tensor): boolean {
  const bytes = (t: ort.Tensor) => {
    const view = t.data as ArrayBufferView;
    return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  };
  return a.type === b.type && a.dims.join() === b.dims.join() && bytes(a).equals(bytes(b));
}

export const f32 = (data: ArrayLike<number>, dims: number[]) => new ort.Tensor('float32', Float32Array.from(data), dims);
export const i32 = (value: number) => new ort.Tensor('int32', Int32Array.from([value]), [1]);

/** Sessions opened once per suite and released in afterAll, so their thread pools never keep a Jest worker alive. */
export class SessionPool {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(private readonly options: ort.InferenceSession.SessionOptions = {}) {}

  get(file: string): Promise<ort.InferenceSession> {
    if (!this.sessions.has(file)) this.sessions.set(file, ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, ...this.options }));
    return this.sessions.get(file)!;
  }

  async releaseAll(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(open.map(async (s) => (await s).release()));
  }
}

/** A seeded PRNG (mulberry32) in [0, 1): test inputs are random but the same on every run. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` seeded random bytes (xorshift32, four bytes per step: fast enough for whole images). */
export function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(length / 4) * 4);
  const words = new Uint32Array(bytes.buffer);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  return bytes.subarray(0, length);
}
