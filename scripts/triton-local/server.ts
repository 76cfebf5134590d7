/**
 * Starts the real `tritonserver` of .venv-triton (nvidia-pytriton's Triton 2.51) on 127.0.0.1 with the product's
 * flags, waits until it is ready, and stops it on request.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { VENV_TRITON } from './publish';

export interface Ports {
  http: number;
  grpc: number;
  metrics: number;
}
export const DEFAULT_PORTS: Ports = { http: 8000, grpc: 8001, metrics: 8002 };
export const PORT_FLAGS: Record<keyof Ports, string> = { http: '--http-port', grpc: '--grpc-port', metrics: '--metrics-port' };
const HOST = '127.0.0.1';
/** Local stops should be quick; the product derives its own from the pod's grace period. */
export const EXIT_TIMEOUT_SECONDS = 10;
/** The APIs the product closes behind a per-pod random key (constructs/triton-server.ts ADMIN_APIS). */
const ADMIN_APIS = 'model-repository,model-config,shared-memory,trace,logging';

/** Paths written by scripts/setup/steps/40-venv-triton.sh. */
interface TritonEnv {
  tritonserver: string;
  backendDirectory: string;
  libraryPath: string[];
  binPath: string;
}

export function tritonEnv(): TritonEnv {
  const file = path.join(VENV_TRITON, 'triton', 'env.json');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run setup\` (scripts/setup/steps/40-venv-triton.sh)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TritonEnv;
}

/**
 * The Deployment's flags (constructs/triton-server.ts, serverCommand) where they apply, with local values for the
 * repository, ports, addresses and exit timeout; test/triton-local-flags.test.ts compares them with the synthesized
 * Deployment. Added: the addresses (loopback only) and --backend-directory (the wheel's python backend).
 */
export function tritonArguments(repository: string, ports: Ports, backendDirectory: string, adminKey: string): string[] {
  return [
    `--model-repository=${repository}`,
    '--model-control-mode=none',
    '--strict-readiness=true',
    '--disable-auto-complete-config',
    '--exit-on-error=true',
    `--exit-timeout-secs=${EXIT_TIMEOUT_SECONDS}`,
    `--http-address=${HOST}`,
    `--http-port=${ports.http}`,
    `--grpc-address=${HOST}`,
    `--grpc-port=${ports.grpc}`,
    '--allow-metrics=true',
    '--allow-gpu-metrics=true',
    `--metrics-address=${HOST}`,
    `--metrics-port=${ports.metrics}`,
    '--metrics-interval-ms=2000',
    '--metrics-config=histogram_latencies=true',
    '--log-format=ISO8601',
    `--http-restricted-api=${ADMIN_APIS}:omniglue-admin-key=${adminKey}`,
    `--grpc-restricted-protocol=${ADMIN_APIS}:omniglue-admin-key=${adminKey}`,
    `--backend-directory=${backendDirectory}`,
  ];
}

/** Rejects when one of the ports cannot be bound on 127.0.0.1, naming the port and its flag. */
export async function checkPorts(ports: Ports): Promise<void> {
  const seen = new Map<number, string>();
  for (const [name, port] of Object.entries(ports) as [keyof Ports, number][]) {
    const flag = PORT_FLAGS[name];
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${flag} must be a port number from 1 to 65535, got ${port}`);
    if (seen.has(port)) throw new Error(`${flag} ${port} is also ${seen.get(port)}: give each endpoint its own port`);
    seen.set(port, flag);
    await new Promise<void>((resolve, reject) => {
      const probe = net.createServer();
      probe.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'is taken' : `cannot be bound (${err.code ?? err.message})`;
        reject(new Error(`port ${port} on ${HOST} (${flag}) ${why}: stop what listens there or choose another with ${flag} N`));
      });
      probe.listen({ host: HOST, port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}

/** A port the OS just handed out (for tests that start servers side by side). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host: HOST, port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface RunningTriton {
  ports: Ports;
  httpUrl: string;
  grpcTarget: string;
  metricsUrl: string;
  logFile: string;
  process: ChildProcess;
  /** Sends SIGTERM and waits for the exit (SIGKILL after the exit timeout and 10 s more); resolves the exit code. */
  stop(): Promise<number | null>;
}

function tail(file: string, lines = 25): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function startTriton(repository: string, ports: Ports, logFile: string, startupTimeoutMs = 300_000): Promise<RunningTriton> {
  const env = tritonEnv();
  await checkPorts(ports);
  const args = tritonArguments(repository, ports, env.backendDirectory, randomBytes(32).toString('hex'));
  const out = fs.openSync(logFile, 'w');
  const child = spawn(env.tritonserver, args, {
    // Its own process group: a terminal's Ctrl-C reaches this process only, which then stops the server once, with
    // SIGTERM (a second signal would be ignored anyway: server src/triton_signal.cc, CommonSignalHandler).
    detached: true,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      LD_LIBRARY_PATH: [...env.libraryPath, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      // The python backend's stub embeds CPython, which finds this venv (numpy, onnxruntime) through the python3
      // first on PATH, as pytriton sets it up (pytriton server/triton_server.py, TritonServer._get_env).
      PATH: [env.binPath, process.env.PATH].filter(Boolean).join(':'),
    },
  });
  fs.closeSync(out);
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      process.removeListener('exit', orphanGuard);
      resolve((exited = code ?? (signal ? 128 : null)));
    }),
  );
  const running: RunningTriton = {
    ports,
    httpUrl: `http://${HOST}:${ports.http}`,
    grpcTarget: `${HOST}:${ports.grpc}`,
    metricsUrl: `http://${HOST}:${ports.metrics}/metrics`,
    logFile,
    process: child,
    async stop() {
      if (exited === undefined) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), (EXIT_TIMEOUT_SECONDS + 10) * 1000);
        await exit;
        clearTimeout(killer);
      }
      return exited ?? null;
    },
  };
  const deadline = Date.now() + startupTimeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`tritonserver exited with ${exited} before it was ready; its log (${logFile}) ends:\n${tail(logFile)}`);
    const ready = await fetch(`${running.httpUrl}/v2/health/ready`).then((r) => r.status === 200, () => false);
    if (ready) return running;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await running.stop();
  throw new Error(`tritonserver was not ready within ${startupTimeoutMs / 1000} s; its log (${logFile}) ends:\n${tail(logFile)}`);
}
