/**
 * `npm run match` over gRPC and over HTTP against the real Triton of `npm run triton:local` (Triton 2.51 from
 * nvidia-pytriton, test/engines/support/local-triton.ts): identical outputs, the same exit code for the same fault,
 * and `npm run loadtest -- --protocol grpc` under a bounded load.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeRequest, imageInputs } from '../../scripts/match/cli';
import { connect } from '../../scripts/match/connect';
import { ExitCode } from '../../scripts/match/errors';
import { loadRgbImage } from '../../scripts/match/images';
import { Deadline } from '../../scripts/match/inference-client';
import type { RunningTriton } from '../../scripts/triton-local/server';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { DEMO1, DEMO2 } from '../support/match-harness';
import { fromDecoded, startLocal } from './support/local-triton';

let server: RunningTriton;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'match-grpc-'));

beforeAll(async () => {
  ({ server } = await startLocal('grpc'));
});

afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `npm run <script> -- <args>`, as a user runs it. */
function npm(script: 'match' | 'loadtest', args: string[]) {
  const run = spawnSync('npm', ['run', '--silent', script, '--', ...args], { cwd: REPOSITORY_ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const endpoints = () => ({ http: ['--url', server.httpUrl], grpc: ['--protocol', 'grpc', '--url', server.grpcTarget] });

test('npm run match -- --protocol grpc gives the outputs --protocol http gives: the same JSON document and summary', () => {
  const results = Object.entries(endpoints()).map(([name, flags]) => {
    const json = path.join(dir, `${name}.json`);
    return { name, json, ...npm('match', [...flags, '--image0', DEMO1, '--image1', DEMO2, '--json', json]) };
  });
  for (const r of results) expect([r.name, r.status, r.stderr]).toEqual([r.name, ExitCode.Ok, '']);
  const [http, grpc] = results.map((r) => ({ ...JSON.parse(fs.readFileSync(r.json, 'utf8')), elapsedMs: 0 }));
  expect(http.matches.length).toBeGreaterThan(0);
  expect(grpc).toEqual(http);
  const summary = (text: string) => text.split('\n').filter((line) => /^(image0|image1|matches): /.test(line));
  expect(summary(results[1]!.stdout)).toEqual(summary(results[0]!.stdout));
  expect(results[1]!.stdout).toContain(`model: omniglue_ensemble at ${server.grpcTarget} (gRPC, raw tensor contents)`);
});

test('the raw output tensors are bit-identical over both protocols', async () => {
  const [image0, image1] = await Promise.all([loadRgbImage(DEMO1), loadRgbImage(DEMO2)]);
  const outputs = await Promise.all((['binary', 'grpc'] as const).map(async (protocol) => {
    const connection = connect({ protocol, url: protocol === 'grpc' ? server.grpcTarget : server.httpUrl, maxMatches: 1024 });
    try {
      const request = encodeRequest(protocol, 'omniglue_ensemble', imageInputs(image0, image1), 64 * 2 ** 20);
      return fromDecoded((await connection.client(new Deadline(120_000)).infer('omniglue_ensemble', request)).tensors);
    } finally {
      connection.close();
    }
  }));
  expect(outputs[1]).toEqual(outputs[0]);
});

test('the same fault gives the same exit code: an unknown model is not ready (5) over both', () => {
  for (const [name, flags] of Object.entries(endpoints())) {
    const run = npm('match', [...flags, '--model', 'no_such_model', '--image0', DEMO1, '--image1', DEMO2]);
    expect([name, run.status]).toEqual([name, ExitCode.NotReady]);
    expect(run.stderr).toContain("model 'no_such_model' is not ready");
  }
});

test('npm run loadtest -- --protocol grpc runs a bounded load with every answer accepted', () => {
  const run = npm('loadtest', ['--protocol', 'grpc', '--url', server.grpcTarget, '--metrics-url', server.metricsUrl, '--requests', '4', '--concurrency', '2']);
  expect([run.status, run.stderr.slice(-2000)]).toEqual([ExitCode.Ok, expect.any(String)]);
  expect(run.stdout).toContain(`target: omniglue_ensemble at ${server.grpcTarget} (gRPC), concurrency 2`);
  expect(run.stdout).toContain('requests: 4 ok, 0 failed');
});

test('Triton then stops cleanly (exit 0): neither client leaves a connection for it to wait on', async () => {
  expect(await server.stop()).toBe(0);
});
