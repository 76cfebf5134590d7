import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** A long-running engine process in a process group of its own, logging to a file. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
  readonly child: ChildProcess;
  /** Set once the process has exited: its code or signal. */
  exited: string | undefined;
}

/** Starts `binary` detached (its own process group, so stop() reaches whatever it forks) with output to `<logDir>/<name>.log`. */
export function startDaemon(name: string, binary: string, args: string[], logDir: string, env: NodeJS.ProcessEnv = process.env): Daemon {
  const log = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd], env });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`cannot start ${name} (${binary})`);
  const daemon: Daemon = { name, pid: child.pid, log, child, exited: undefined };
  child.on('exit', (code, signal) => {
    daemon.exited = signal ?? `exit ${code}`;
  });
  child.on('error', (error) => {
    daemon.exited = error.message;
  });
  return daemon;
}

/** The last lines of a daemon's log: what a failure message quotes. */
export function logTail(daemon: Daemon, lines = 15): string {
  try {
    return fs.readFileSync(daemon.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops a daemon's process group: SIGTERM, then SIGKILL after `graceMs`. Never throws. */
export async function stopDaemon(daemon: Daemon, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-daemon.pid, sig);
    } catch {
      // The group is gone already.
    }
  };
  if (daemon.exited !== undefined) return signal('SIGKILL');
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (daemon.exited === undefined && Date.now() < deadline) await sleep(100);
  signal('SIGKILL');
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` with `what` and the last
 * error. A daemon given in `watch` that exits ends the wait at once, with its log tail.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, watch: Daemon[] = [], intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    for (const daemon of watch) {
      if (daemon.exited !== undefined) throw new Error(`${daemon.name} exited (${daemon.exited}) while waiting for ${what}:\n${logTail(daemon)}`);
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(intervalMs);
  }
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resident memory of a process in bytes (VmRSS), 0 once it is gone. */
export function residentBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the summed RSS of some processes every `intervalMs`, keeping the peak and the peak per process. */
export class MemorySampler {
  peakTotal = 0;
  readonly peakByName = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly daemons: () => Daemon[]) {}

  start(intervalMs = 1000): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    let total = 0;
    for (const daemon of this.daemons()) {
      const rss = residentBytes(daemon.pid);
      total += rss;
      this.peakByName.set(daemon.name, Math.max(this.peakByName.get(daemon.name) ?? 0, rss));
    }
    this.peakTotal = Math.max(this.peakTotal, total);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sample();
  }
}
