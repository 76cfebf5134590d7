import * as path from 'node:path';
import { createDeployWorkspace, DeployWorkspace, runCommand } from '../support/deploy-workspace';
import { engineCluster, EngineCluster, harnessConfig } from '../support/engines-cluster';
import {
  applySavedPlan,
  clusterWorkloads,
  observedVerdict,
  reviewVerdict,
  snapshotSynth,
  terraformActions,
  Verdict,
  workloadAddresses,
} from '../support/review-harness';
import { mergeChange, REVIEW_SCENARIOS, ReviewScenario } from '../support/review-scenarios';
import { expectExit, stackDirectories, synth } from '../support/terraform-run';

// The change review (scripts/review) against Terraform itself: for each scenario, the review's create, update,
// replace or delete of every resource must be what `terraform plan` then `terraform show -json` says, and its
// rollouts and Job runs what the API server shows once the plan is applied. One base deploy serves every scenario
// (review-scenarios.ts orders them so each starts where the previous one left the cluster).
const STACKS = ['gpu-platform', 'omniglue-serving'];
const SERVING = 'omniglue-serving';
const CDKTF_ARGS = ['--', '--auto-approve', '--skip-provider-lock'];

let cluster: EngineCluster;
let ws: DeployWorkspace;
/** The configuration applied now (overrides of the harness configuration). */
let applied: Record<string, unknown> = {};
/** The configuration cdktf.out was last synthesized from (JSON), if the synth succeeded. */
let synthesized: string | undefined;
const outcomes: string[] = [];

const outDir = () => path.join(ws.root, 'cdktf.out');
const beforeDir = () => path.join(ws.root, 'review-before');

beforeAll(async () => {
  cluster = engineCluster();
  ws = createDeployWorkspace();
  ws.writeConfig(harnessConfig(cluster));
  const deploy = await runCommand('npm', ['run', 'deploy', ...CDKTF_ARGS], { cwd: ws.root, env: ws.env(), timeoutMs: 900_000 });
  expectExit('npm run deploy (the base of every scenario)', deploy);
  synthesized = JSON.stringify(applied);
  outcomes.push(`base: npm run deploy ${deploy.seconds.toFixed(0)} s`);
});

afterAll(async () => {
  try {
    if (ws !== undefined) {
      ws.writeConfig(harnessConfig(cluster, applied));
      const destroy = await runCommand('npm', ['run', 'destroy', ...CDKTF_ARGS], { cwd: ws.root, env: ws.env(), timeoutMs: 900_000 });
      outcomes.push(`npm run destroy: exit ${destroy.code}, ${destroy.seconds.toFixed(0)} s`);
      expectExit('npm run destroy', destroy);
    }
  } finally {
    console.log(`review against Terraform:\n  ${outcomes.join('\n  ')}`);
    cluster?.close();
    ws?.remove();
  }
});

/** Plans `scenario` over the applied configuration: the review's verdict and Terraform's actions, per stack. */
async function planScenario(scenario: ReviewScenario, next: Record<string, unknown>) {
  // The review's "before" is the synthesis of the applied configuration: cdktf.out holds it after an applied
  // scenario; after a plan-only or failed one it is synthesized again.
  if (synthesized !== JSON.stringify(applied)) {
    ws.writeConfig(harnessConfig(cluster, applied));
    await synth(ws, outDir());
  }
  snapshotSynth(outDir(), beforeDir());
  ws.writeConfig(harnessConfig(cluster, next));
  synthesized = undefined;
  await synth(ws, outDir());
  synthesized = JSON.stringify(next);
  const dirs = stackDirectories(outDir());
  const review: Record<string, Verdict> = {};
  const planned: Record<string, Record<string, string>> = {};
  for (const stack of STACKS) {
    review[stack] = reviewVerdict(beforeDir(), outDir(), stack);
    planned[stack] = await terraformActions(ws, dirs[stack]);
  }
  return { dirs, review, planned, scenario };
}

/** The review's verdict equals Terraform's and the API server's, or, for a known disagreement, still differs. */
function expectAgreement(scenario: ReviewScenario, review: object, truth: object): void {
  if (scenario.knownDisagreement === undefined) {
    expect(review).toEqual(truth);
    return;
  }
  outcomes.push(`${scenario.name}: known disagreement, review ${JSON.stringify(review)}: ${scenario.knownDisagreement}`);
  expect(review).not.toEqual(truth);
}

describe('the change review agrees with terraform plan and the API server', () => {
  test.each(REVIEW_SCENARIOS.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
    const started = Date.now();
    const next = mergeChange(applied, scenario.change);
    const { dirs, review, planned } = await planScenario(scenario, next);
    const reviewActions = Object.fromEntries(STACKS.map((stack) => [stack, review[stack].actions]));
    const summary = STACKS.map((stack) => `${stack} ${JSON.stringify(planned[stack])}`).join('; ');
    if (scenario.planOnly !== undefined) {
      outcomes.push(`${scenario.name}: terraform ${summary}; not applied: ${scenario.planOnly}`);
      expectAgreement(scenario, { actions: reviewActions }, { actions: planned });
      return;
    }
    // Applied even when the actions disagree, so that the next scenario starts from this one's configuration.
    const serving = dirs[SERVING];
    const before = await clusterWorkloads(cluster.client);
    for (const stack of STACKS) if (Object.keys(planned[stack]).length > 0) await applySavedPlan(ws, dirs[stack]);
    applied = next;
    const observed = observedVerdict(await workloadAddresses(ws, serving), before, await clusterWorkloads(cluster.client));
    outcomes.push(
      `${scenario.name}: terraform ${summary}; API: rollouts ${JSON.stringify(observed.rollouts)}, job runs ${JSON.stringify(observed.jobRuns)}; ` +
        `${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    expectAgreement(scenario, { actions: reviewActions, rollouts: review[SERVING].rollouts, jobRuns: review[SERVING].jobRuns }, { actions: planned, ...observed });
  });
});
