/**
 * No two environments of one configuration file may share a Terraform state, or deploy the same objects to one
 * cluster: two states managing one object fight over it, and destroying one environment deletes the other's objects.
 * Checked at every synth for the base configuration and every environment (config/load.ts), from the same state
 * locations the backends use (config/state-location.ts) and the objects the stacks create with fixed names.
 *
 * A cluster is known here by its kubeconfig path and context name only: two context names for one cluster, or the
 * current context of a kubeconfig switched between deploys, are beyond what a synth can see.
 */

import type { OmniglueConfig } from './schema';
import { STACK_NAMES } from '../lib/stack-names';
import { MAX_SECRET_SUFFIX, stateLocation } from './state-location';

export interface NamedConfig {
  /** The environment's name; undefined for the configuration without OMNIGLUE_ENV. */
  readonly name: string | undefined;
  readonly config: OmniglueConfig;
}

const label = (name: string | undefined) => (name === undefined ? 'the base configuration (no OMNIGLUE_ENV)' : `environment '${name}'`);

/** The cluster an environment deploys to, as far as its configuration tells. */
export function clusterTarget(config: OmniglueConfig): string {
  const { configPath, configContext } = config.kubernetes;
  return configContext === undefined ? `the current context of ${configPath}` : `context '${configContext}' of ${configPath}`;
}

/**
 * What an environment creates in its cluster under names of its own choosing, which a second environment in the
 * same cluster would create again: its namespace, the cluster-wide add-ons of the platform stack, and the objects the
 * serving stack puts into the monitoring namespace (constructs/alert-rules.ts, grafana-dashboard.ts,
 * triton-pod-monitor.ts). test/environment-isolation.test.ts checks this list against the synthesized stacks.
 */
export function clusterClaims(config: OmniglueConfig): string[] {
  const { monitoring, addons } = config;
  const ownPrometheusWithOperator = !monitoring.installKubePrometheusStack && monitoring.prometheusOperator;
  const installsAdapter = monitoring.installPrometheusAdapter && (monitoring.installKubePrometheusStack || monitoring.existingPrometheusUrl !== undefined);
  return [
    `namespace ${config.namespace}`,
    ...(addons.nvidiaDevicePlugin ? ['the NVIDIA device plugin (cluster-wide DaemonSets)'] : []),
    ...(monitoring.installKubePrometheusStack ? ['kube-prometheus-stack (cluster-wide CRDs and roles)'] : []),
    ...(installsAdapter ? ['prometheus-adapter (the cluster\'s one APIService v1beta1.custom.metrics.k8s.io)'] : []),
    ...(monitoring.installAlertRules ? [`Helm release ${monitoring.namespace}/omniglue-alerts`] : []),
    ...(ownPrometheusWithOperator ? [`Helm release ${monitoring.namespace}/omniglue-pod-monitor`] : []),
    ...(monitoring.grafana.dashboard ? [`ConfigMap ${monitoring.namespace}/omniglue-triton-dashboard`] : []),
  ];
}

function pairs<T>(items: readonly T[]): [T, T][] {
  return items.flatMap((a, i) => items.slice(i + 1).map((b): [T, T] => [a, b]));
}

/** Every shared state, shared set of cluster objects and overlong state name among the environments, in words. */
export function isolationProblems(environments: readonly NamedConfig[]): string[] {
  const problems: string[] = [];
  const states = environments.flatMap(({ name, config }) =>
    Object.values(STACK_NAMES).map((stack) => ({ name, stack, location: stateLocation(config.state, stack, name, config.kubernetes) })),
  );
  for (const { name, stack, location } of states) {
    if (location.secretSuffix.length > MAX_SECRET_SUFFIX && environments.find((e) => e.name === name)?.config.state.backend === 'kubernetes') {
      problems.push(
        `${label(name)}: the state Secret suffix '${location.secretSuffix}' of stack ${stack} has ${location.secretSuffix.length} characters; ` +
          `the kubernetes backend writes it into a label value, at most ${MAX_SECRET_SUFFIX}: shorten state.secretSuffixPrefix or the environment's name`,
      );
    }
  }
  for (const [a, b] of pairs(states)) {
    if (a.name === b.name || a.location.identity !== b.location.identity) continue;
    problems.push(
      `${label(a.name)} and ${label(b.name)} share the state ${a.location.identity}: each would plan against the other's objects; ` +
        'give one a state location of its own (state.directory, keyPrefix, prefix, secretSuffixPrefix or workspacePrefix)',
    );
  }
  for (const [a, b] of pairs(environments)) {
    if (clusterTarget(a.config) !== clusterTarget(b.config)) continue;
    const shared = clusterClaims(a.config).filter((claim) => clusterClaims(b.config).includes(claim));
    if (shared.length === 0 || (a.config.kubernetes.allowSharedTarget && b.config.kubernetes.allowSharedTarget)) continue;
    problems.push(
      `${label(a.name)} and ${label(b.name)} both deploy to ${clusterTarget(a.config)} and both create ${shared.join(', ')}: ` +
        'deploying one changes the other\'s objects and destroying one deletes them. Give each its own kubernetes.configContext (or namespace and ' +
        'monitoring settings), or set kubernetes.allowSharedTarget to true in both if they are one deployment under two names',
    );
  }
  return problems;
}
