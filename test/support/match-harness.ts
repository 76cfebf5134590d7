/**
 * Shared by the match client's test files: output capture, the demo pair decoded independently of the client, and
 * fake Tritons that are closed after each test. matchHarness() registers the Jest hooks in the calling file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import type { Io } from '../../scripts/match/cli';
import { type FakeTriton, type FakeTritonOptions, type FixedMatches, startFakeTriton } from './fake-triton-server';
import { type FakeTritonGrpc, type FakeTritonGrpcOptions, startFakeTritonGrpc } from './fake-triton-grpc';

export const ROOT = resolve(__dirname, '../..');
export const DEMO1 = join(ROOT, 'assets/demo1.jpg');
export const DEMO2 = join(ROOT, 'assets/demo2.jpg');

/**
 * Five matches with exactly representable float32 values (so the JSON round trip is exact). For the demo pair
 * (1000 wide) m0 is a horizontal line at y = 100 from x = 100 to 1100, m2 one at y = 600 from 50 to 1060.
 */
export const FIXED: FixedMatches = {
  kp0: [[100, 100], [200, 400], [50, 600], [900.5, 50.25], [10, 650]],
  kp1: [[100, 100], [300, 300], [60, 600], [10.75, 20.5], [990, 10]],
  confidences: [1, 0.5, 0.25, 0.015625, 0],
};

export interface Captured {
  io: Io;
  out: string[];
  err: string[];
  stdout(): string;
  stderr(): string;
}

export function capture(): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (l) => out.push(l), err: (l) => err.push(l) },
    out,
    err,
    stdout: () => out.join('\n'),
    stderr: () => err.join('\n'),
  };
}

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
}

export async function rawRgb(path: string): Promise<RawImage> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

export const demoArgs = (url: string): string[] => ['--url', url, '--image0', DEMO1, '--image1', DEMO2];

export interface MatchHarness {
  /** A fake Triton expecting the demo pair and answering FIXED, unless overridden. */
  fake(overrides?: Partial<FakeTritonOptions>): Promise<FakeTriton>;
  /** The same over gRPC (test/support/fake-triton-grpc.ts). */
  grpc(overrides?: Partial<FakeTritonGrpcOptions>): Promise<FakeTritonGrpc>;
  /** A fresh temporary directory for this file's outputs. */
  tmp(): string;
  demo1(): RawImage;
  demo2(): RawImage;
}

export function matchHarness(): MatchHarness {
  let tmp = '';
  let demo1: RawImage;
  let demo2: RawImage;
  const servers: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'match-client-'));
    // Decoded independently of the client, so the fake server can check the exact bytes it receives.
    [demo1, demo2] = await Promise.all([rawRgb(DEMO1), rawRgb(DEMO2)]);
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    // No handle outlives these tests: each fake server closes its connections (so fetch's pooled sockets end) and
    // cancels its pending delays. (fetch's global dispatcher lives in Node's own realm, out of Jest's reach.)
    // libvips keeps decoded images cached; dropping the cache lets the worker tear down quickly.
    sharp.cache(false);
    await rm(tmp, { recursive: true, force: true });
  });

  const expected = () => ({
    image0: { shape: [demo1.height, demo1.width, 3] as [number, number, 3], data: demo1.data },
    image1: { shape: [demo2.height, demo2.width, 3] as [number, number, 3], data: demo2.data },
  });

  return {
    async fake(overrides = {}) {
      const server = await startFakeTriton({ expected: expected(), matches: FIXED, ...overrides });
      servers.push(server);
      return server;
    },
    async grpc(overrides = {}) {
      const server = await startFakeTritonGrpc({ expected: expected(), matches: FIXED, ...overrides });
      servers.push(server);
      return server;
    },
    tmp: () => tmp,
    demo1: () => demo1,
    demo2: () => demo2,
  };
}
