/**
 * A stand-in for Triton's metrics endpoint (:8002/metrics, Prometheus text format as Triton writes it: HELP/TYPE
 * lines, counters labelled model and version; server docs/user_guide/metrics.md). Every counter grows with the
 * number of pairs the caller reports as served, at fixed per-request costs, on top of a baseline of earlier traffic.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StepCost {
  /** Step executions per served pair (2 for the per-image models). */
  perPair: number;
  queueUs: number;
  inputUs: number;
  inferUs: number;
  outputUs: number;
}

export interface FakeTritonMetrics {
  url: string;
  scrapes: number;
  close(): Promise<void>;
}

const BASELINE_PAIRS = 100;

export function metricsText(pairs: number, costs: Record<string, StepCost>): string {
  const families: Array<[string, string, (c: StepCost) => number]> = [
    ['nv_inference_request_success', 'Number of successful inference requests', () => 1],
    ['nv_inference_request_failure', 'Number of failed inference requests', () => 0],
    ['nv_inference_count', 'Number of inferences performed', () => 1],
    ['nv_inference_exec_count', 'Number of model executions performed', () => 1],
    ['nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds', (c) => c.queueUs],
    ['nv_inference_compute_input_duration_us', 'Cumulative compute input duration in microseconds', (c) => c.inputUs],
    ['nv_inference_compute_infer_duration_us', 'Cumulative compute inference duration in microseconds', (c) => c.inferUs],
    ['nv_inference_compute_output_duration_us', 'Cumulative inference compute output duration in microseconds', (c) => c.outputUs],
  ];
  const lines: string[] = [];
  for (const [name, help, perRequest] of families) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const [model, cost] of Object.entries(costs)) {
      lines.push(`${name}{model="${model}",version="1"} ${(pairs + BASELINE_PAIRS) * cost.perPair * perRequest(cost)}`);
    }
  }
  lines.push('# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)', '# TYPE nv_gpu_utilization gauge', 'nv_gpu_utilization{gpu_uuid="GPU-0"} 0.5');
  return `${lines.join('\n')}\n`;
}

export async function startFakeTritonMetrics(servedPairs: () => number, costs: Record<string, StepCost>): Promise<FakeTritonMetrics> {
  const state = { scrapes: 0 };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      state.scrapes += 1;
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metricsText(servedPairs(), costs));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    get scrapes() {
      return state.scrapes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
