// The engine tier's Jest global set-up (jest.engines.config.js): one control plane and one chart repository for
// every suite of the run that needs them, started once and stopped by the global teardown. The suites run in band,
// in this process, so the servers here answer while they run; the suites find them through environment variables.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startChartRepository } from './chart-repository';
import { startControlPlane } from './control-plane/control-plane';
import { CLUSTER_ENV, CLUSTER_SUITES, EXTRA_CHART_VERSIONS, HARNESS } from './engines-cluster';

interface GlobalConfig {
  readonly rootDir: string;
  readonly testPathPatterns?: { patterns?: string[] } | string[];
}

/** Whether the run selects a suite that needs the cluster: Jest runs every suite when no path pattern is given. */
function clusterNeeded(config: GlobalConfig): boolean {
  const raw = config.testPathPatterns;
  const patterns = (Array.isArray(raw) ? raw : raw?.patterns) ?? [];
  if (patterns.length === 0) return true;
  return CLUSTER_SUITES.some((suite) => patterns.some((pattern) => new RegExp(pattern).test(path.join(config.rootDir, suite))));
}

export default async function setUpEngineTier(config: GlobalConfig): Promise<void> {
  if (!clusterNeeded(config)) return;
  const started = Date.now();
  const controlPlane = await startControlPlane();
  // A killed Jest must not leave the engines running: their process groups go with it.
  const killAll = () => controlPlane.daemons.forEach((daemon) => {
    try {
      process.kill(-daemon.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  });
  process.once('exit', killAll);
  // The engines run in process groups of their own, which a Ctrl-C at the terminal does not reach; 'exit' is not
  // emitted on a fatal signal, so stop them first and then die of the same signal.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
  let repository;
  try {
    repository = await startChartRepository(EXTRA_CHART_VERSIONS);
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
  HARNESS.current = { controlPlane, repository, killAll, started };
  process.env[CLUSTER_ENV.kubeconfig] = controlPlane.kubeconfig;
  process.env[CLUSTER_ENV.chartRepository] = repository.url;
  fs.writeFileSync(path.join(controlPlane.dir, 'started'), `${controlPlane.startSeconds}\n`);
  console.log(`\nengine tier: control plane ready in ${controlPlane.startSeconds.toFixed(1)} s (${controlPlane.server}), charts at ${repository.url}`);
}
