// The engine tier's global teardown: stops what engines-global-setup.ts started and reports the control plane's
// cost (docs/engines-cluster.md quotes these lines).
import { HARNESS } from './engines-cluster';

const MiB = 2 ** 20;

export default async function tearDownEngineTier(): Promise<void> {
  const harness = HARNESS.current;
  if (harness === undefined) return;
  HARNESS.current = undefined;
  const { controlPlane, repository } = harness;
  controlPlane.memory.sample();
  const perProcess = [...controlPlane.memory.peakByName].map(([name, bytes]) => `${name} ${Math.round(bytes / MiB)}`).join(', ');
  console.log(
    `engine tier: control plane up ${((Date.now() - harness.started) / 1000).toFixed(0)} s; peak RSS ${Math.round(controlPlane.memory.peakTotal / MiB)} MiB ` +
      `(sum of its processes; per process peak, MiB: ${perProcess})`,
  );
  await repository.close();
  await controlPlane.stop();
  process.removeListener('exit', harness.killAll);
}
