import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { ChartRepository, ExtraVersion } from './chart-repository';
import type { ControlPlane } from './control-plane/control-plane';
import { clientFromKubeconfig, KubeClient } from './control-plane/kube-client';

/** How the suites find what the global set-up started. */
export const CLUSTER_ENV = { kubeconfig: 'OMNIGLUE_TEST_KUBECONFIG', chartRepository: 'OMNIGLUE_TEST_CHART_REPOSITORY' } as const;
/** The suites that need the control plane; the global set-up starts it only when the run selects one. */
export const CLUSTER_SUITES = ['test/engines/deploy-cycle.test.ts', 'test/engines/review-vs-plan.test.ts'];
/** A second version of a chart, for the review's chart-version scenario (chart-repository.ts repackage). */
export const EXTRA_CHART_VERSIONS: ExtraVersion[] = [{ chart: 'nvidia-device-plugin', from: '0.18.0', to: '0.18.1' }];

interface Harness {
  readonly controlPlane: ControlPlane;
  readonly repository: ChartRepository;
  readonly killAll: () => void;
  readonly started: number;
}

/** Shared by the global set-up and teardown, which Jest runs in its own process (not the suites' context). */
export const HARNESS: { current: Harness | undefined } = ((globalThis as { __omniglueHarness?: { current: Harness | undefined } }).__omniglueHarness ??= { current: undefined });

export interface EngineCluster {
  readonly kubeconfig: string;
  readonly chartRepository: string;
  readonly client: KubeClient;
  /** Closes the client and removes its credential files. */
  close(): void;
}

/** The running control plane, seen from a suite; throws when the global set-up did not start one. */
export function engineCluster(): EngineCluster {
  const kubeconfig = process.env[CLUSTER_ENV.kubeconfig];
  const chartRepository = process.env[CLUSTER_ENV.chartRepository];
  if (kubeconfig === undefined || chartRepository === undefined || !fs.existsSync(kubeconfig)) {
    throw new Error(`no control plane: run the engine tier through jest.engines.config.js (its globalSetup starts one); ${CLUSTER_ENV.kubeconfig}=${kubeconfig ?? ''}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-client-'));
  const client = clientFromKubeconfig(kubeconfig, dir);
  return {
    kubeconfig,
    chartRepository,
    client,
    close: () => {
      client.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The configuration a user of this cluster writes: the defaults, the cluster's kubeconfig and the chart mirror
 * (the `chartRepositories` settings air-gapped users have), nothing else.
 */
export function harnessConfig(cluster: EngineCluster, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base = {
    kubernetes: { configPath: cluster.kubeconfig },
    chartRepositories: { nvidiaDevicePlugin: cluster.chartRepository, prometheusCommunity: cluster.chartRepository },
  };
  return deepMergeJson(base, overrides);
}

function deepMergeJson(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const prior = out[key];
    out[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof prior === 'object' && prior !== null && !Array.isArray(prior)
        ? deepMergeJson(prior as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}
