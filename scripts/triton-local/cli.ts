/**
 * `npm run triton:local [-- --http-port N --grpc-port N --metrics-port N --weights DIR ...]`: a real Triton on
 * 127.0.0.1 serving the repository as the conversion Job publishes it. docs/triton-local.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { REPOSITORY_ROOT } from '../../lib/paths';
import { resolveThroughputMode, type ThroughputMode } from '../../lib/throughput-mode';
import { publishRepository } from './publish';
import { checkPorts, DEFAULT_PORTS, type Ports, startTriton } from './server';

export const USAGE = `Usage: npm run triton:local -- [options]

Publishes model_repository/ with the conversion Job's program (stand-in networks unless --weights is given) and
serves it with a real Triton (2.51, python backend running each ONNX file in onnxruntime) on 127.0.0.1.

  --http-port <N>          KServe v2 HTTP (default ${DEFAULT_PORTS.http})
  --grpc-port <N>          KServe v2 gRPC (default ${DEFAULT_PORTS.grpc})
  --metrics-port <N>       Prometheus metrics (default ${DEFAULT_PORTS.metrics})
  --weights <dir>          the official weight files (sp_v6.tgz, dinov2_vitb14_pretrain.pth, og_export.zip),
                           converted by the Job's program in the conversion toolchain (.venv)
  --throughput-image-size <WxH>   publish the throughput mode (conversion.throughputMode), as the Job would
  --throughput-max-batch-size <N>
  --throughput-max-queue-delay-microseconds <D>
  --work-dir <dir>         where versions are published and logs written (default .cache/triton-local)
  --help                   show this text

Prints one line when the server is ready; Ctrl-C (SIGINT) or SIGTERM stops it.`;

export interface LocalOptions {
  ports: Ports;
  weightsDir?: string;
  throughput?: ThroughputMode;
  workDir: string;
}

function port(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new Error(`--${flag} must be a port number from 1 to 65535, got '${raw}'`);
  return value;
}

export function parseOptions(argv: string[]): LocalOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'http-port': { type: 'string' }, 'grpc-port': { type: 'string' }, 'metrics-port': { type: 'string' },
      weights: { type: 'string' }, 'work-dir': { type: 'string' }, help: { type: 'boolean' },
      'throughput-image-size': { type: 'string' }, 'throughput-max-batch-size': { type: 'string' },
      'throughput-max-queue-delay-microseconds': { type: 'string' },
    },
  });
  if (values.help) return 'help';
  let throughput: ThroughputMode | undefined;
  const size = values['throughput-image-size'];
  if (size !== undefined) {
    const match = /^(\d+)x(\d+)$/.exec(size);
    if (!match) throw new Error(`--throughput-image-size must be WIDTHxHEIGHT, e.g. 640x480, got '${size}'`);
    const batch = values['throughput-max-batch-size'];
    const delay = values['throughput-max-queue-delay-microseconds'];
    // Absent settings stay absent: the defaults (lib/throughput-mode.ts) fill them in.
    throughput = resolveThroughputMode({
      imageWidth: Number(match[1]),
      imageHeight: Number(match[2]),
      ...(batch === undefined ? {} : { maxBatchSize: Number(batch) }),
      ...(delay === undefined ? {} : { maxQueueDelayMicroseconds: Number(delay) }),
    });
  } else if (values['throughput-max-batch-size'] !== undefined || values['throughput-max-queue-delay-microseconds'] !== undefined) {
    throw new Error('--throughput-max-batch-size and --throughput-max-queue-delay-microseconds need --throughput-image-size');
  }
  if (values.weights !== undefined && !fs.statSync(values.weights, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`--weights ${values.weights}: no such directory`);
  }
  return {
    ports: {
      http: port('http-port', values['http-port'], DEFAULT_PORTS.http),
      grpc: port('grpc-port', values['grpc-port'], DEFAULT_PORTS.grpc),
      metrics: port('metrics-port', values['metrics-port'], DEFAULT_PORTS.metrics),
    },
    weightsDir: values.weights === undefined ? undefined : path.resolve(values.weights),
    throughput,
    workDir: path.resolve(values['work-dir'] ?? path.join(REPOSITORY_ROOT, '.cache', 'triton-local')),
  };
}

async function main(argv: string[]): Promise<number> {
  let options: LocalOptions | 'help';
  try {
    options = parseOptions(argv);
  } catch (err) {
    console.error(`triton:local: ${(err as Error).message.replace(/\s*\(ERR_PARSE_ARGS_\w+\)$/, '')}\n(run with --help for usage)`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const log = (line: string) => console.error(`triton:local: ${line}`);
  try {
    await checkPorts(options.ports); // before the publish: a taken port should fail in a second, not after it
    const { serving } = publishRepository({ ...options, log });
    const logFile = path.join(options.workDir, 'tritonserver.log');
    log(`starting tritonserver (log: ${path.relative(process.cwd(), logFile)})`);
    const server = await startTriton(serving, options.ports, logFile);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping tritonserver`);
      void server.stop().then((code) => {
        log(`tritonserver exited with ${code}`);
        process.exit(code === 0 ? 0 : 1);
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    server.process.once('exit', (code) => {
      if (!stopping) {
        log(`tritonserver exited unexpectedly with ${code}; see ${logFile}`);
        process.exit(1);
      }
    });
    console.log(
      `triton:local ready: HTTP ${server.httpUrl}, gRPC ${server.grpcTarget}, metrics ${server.metricsUrl}` +
        ` (repository ${path.relative(process.cwd(), serving)}${options.throughput ? ', throughput mode' : ''}${options.weightsDir ? `, weights ${options.weightsDir}` : ', stand-in weights'})`,
    );
    return await new Promise<number>(() => undefined);
  } catch (err) {
    log((err as Error).message);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
