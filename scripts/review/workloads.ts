/** Pod-bearing resources: the images and GPU placement of their containers, Deployment rollouts and Jobs. */

import { bool, kindOf, kubernetesObjects, many, metadataOf, num, Obj, one, resourcesOf, str, TerraformJson, typesOf } from './terraform-json';

export const GPU_RESOURCE = 'nvidia.com/gpu';

export interface ImageRef {
  readonly workload: string;
  readonly container: string;
  readonly init: boolean;
  readonly image: string;
  /** Undefined when the image has no tag (a digest may still pin it). */
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

export interface GpuWorkload {
  readonly workload: string;
  readonly container: string;
  /** The `nvidia.com/gpu` quantities; undefined when the container does not set them. */
  readonly gpuRequest: string | undefined;
  readonly gpuLimit: string | undefined;
  readonly tolerations: string[];
  readonly nodeAffinity: string[];
  readonly runtimeClass: string | undefined;
}

export interface ProbeSummary {
  readonly deployment: string;
  readonly container: string;
  readonly kind: 'startup' | 'readiness' | 'liveness';
  readonly check: string;
  readonly periodSeconds: number;
  readonly failureThreshold: number;
  /** How long the probe may fail before the kubelet acts: period × failureThreshold. */
  readonly budgetSeconds: number;
}

export interface DeploymentSummary {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly replicas: number | undefined;
  /** `lifecycle.ignore_changes` covers the replica count, so an autoscaler owns it after creation. */
  readonly replicasIgnored: boolean;
  readonly strategy: string;
  readonly waitForRollout: boolean;
  readonly createTimeout: string | undefined;
  readonly probes: ProbeSummary[];
}

export interface JobSummary {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly backoffLimit: number | undefined;
  readonly activeDeadlineSeconds: number | undefined;
  readonly waitForCompletion: boolean;
  /** As written (`70m`); undefined leaves the provider's default of 1 minute. */
  readonly createTimeout: string | undefined;
  /** Exit codes that fail the Job at once (its pod failure policy's FailJob rules). */
  readonly failJobExitCodes: number[];
  /**
   * The conversion flags that choose which model variant is published (TensorRT, instance kind, throughput mode),
   * as `flag value` strings; empty for the default variant or another Job.
   */
  readonly modelVariant: string[];
}

/** Flags of scripts/omniglue_conversion/cli.py that change what is published, with whether each takes a value. */
const VARIANT_FLAGS: Record<string, boolean> = {
  '--tensorrt-fp16': false,
  '--tensorrt-max-image-side': true,
  '--instance-kind': true,
  '--throughput-image-size': true,
  '--throughput-max-batch-size': true,
  '--throughput-max-queue-delay-microseconds': true,
};

function modelVariant(podSpec: Obj): string[] {
  const args = many(podSpec.container).flatMap((container) => (Array.isArray(container.args) ? container.args.map(String) : []));
  return args.flatMap((arg, index) => {
    if (!(arg in VARIANT_FLAGS)) return [];
    return [VARIANT_FLAGS[arg] ? `${arg.slice(2)} ${args[index + 1] ?? '?'}` : arg.slice(2)];
  });
}

interface Workload {
  /** `Deployment/omniglue-triton`. */
  readonly label: string;
  readonly podSpec: Obj;
}

/** The pod spec of every workload type that has one, wherever the type keeps it. */
function workloads(doc: TerraformJson): Workload[] {
  const found: Workload[] = [];
  for (const type of typesOf(doc, /^kubernetes_(deployment|stateful_set|daemon_set|daemonset|job|cron_job|pod)(_v\d+)?$/)) {
    for (const [logicalName, resource] of resourcesOf(doc, type)) {
      const spec = one(resource.spec);
      const podSpec = type.includes('cron_job')
        ? one(one(one(one(spec.job_template).spec).template).spec)
        : type.startsWith('kubernetes_pod')
          ? spec
          : one(one(spec.template).spec);
      found.push({ label: `${kindOf(type)}/${metadataOf(doc, resource).name ?? logicalName}`, podSpec });
    }
  }
  return found;
}

function containersOf(podSpec: Obj): { container: Obj; init: boolean }[] {
  return [
    ...many(podSpec.init_container).map((container) => ({ container, init: true })),
    ...many(podSpec.container).map((container) => ({ container, init: false })),
  ];
}

/** Splits `registry:5000/repo/name:tag@sha256:...` into tag and digest (a port is not a tag). */
export function parseImage(image: string): { tag: string | undefined; digest: string | undefined } {
  const [withoutDigest, digest] = image.split('@', 2);
  const lastSegment = withoutDigest.slice(withoutDigest.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  return { tag: colon >= 0 ? lastSegment.slice(colon + 1) : undefined, digest };
}

export function summarizeImages(doc: TerraformJson): ImageRef[] {
  return workloads(doc).flatMap(({ label, podSpec }) =>
    containersOf(podSpec).map(({ container, init }) => {
      const image = str(container.image) ?? '';
      return { workload: label, container: str(container.name) ?? '?', init, image, ...parseImage(image) };
    }),
  );
}

function describeToleration(toleration: Obj): string {
  const key = str(toleration.key) ?? '*';
  const operator = str(toleration.operator) ?? 'Equal';
  const value = operator === 'Equal' ? `=${str(toleration.value) ?? ''}` : ` ${operator}`;
  const effect = str(toleration.effect);
  return `${key}${value}${effect !== undefined ? `:${effect}` : ''}`;
}

/** Required node affinity terms and node selectors, as `key In [values]`. */
function describePlacement(podSpec: Obj): string[] {
  const required = one(one(one(podSpec.affinity).node_affinity).required_during_scheduling_ignored_during_execution);
  const terms = many(required.node_selector_term).flatMap((term) =>
    many(term.match_expressions).map((expr) => {
      const values = Array.isArray(expr.values) ? expr.values.map((v) => str(v) ?? '').join(', ') : '';
      return `${str(expr.key) ?? '?'} ${str(expr.operator) ?? '?'} [${values}]`;
    }),
  );
  const selector = Object.entries(one(podSpec.node_selector)).map(([key, value]) => `${key}=${str(value) ?? ''}`);
  return [...terms, ...selector];
}

/** One row per container of every workload, GPU or not: a CPU-only Job is worth seeing too. */
export function summarizeGpu(doc: TerraformJson): GpuWorkload[] {
  return workloads(doc).flatMap(({ label, podSpec }) => {
    const tolerations = many(podSpec.toleration).map(describeToleration);
    const nodeAffinity = describePlacement(podSpec);
    const runtimeClass = str(podSpec.runtime_class_name);
    return containersOf(podSpec).map(({ container, init }) => {
      const resources = one(container.resources);
      return {
        workload: label,
        container: `${str(container.name) ?? '?'}${init ? ' (init)' : ''}`,
        gpuRequest: str(one(resources.requests)[GPU_RESOURCE]),
        gpuLimit: str(one(resources.limits)[GPU_RESOURCE]),
        tolerations,
        nodeAffinity,
        runtimeClass,
      };
    });
  });
}

function describeProbeCheck(probe: Obj): string {
  const http = one(probe.http_get);
  if (Object.keys(http).length > 0) return `GET ${str(http.path) ?? '/'} :${str(http.port) ?? '?'}`;
  const grpc = one(probe.grpc);
  if (Object.keys(grpc).length > 0) return `gRPC :${str(grpc.port) ?? '?'}`;
  const tcp = one(probe.tcp_socket);
  if (Object.keys(tcp).length > 0) return `TCP :${str(tcp.port) ?? '?'}`;
  const exec = one(probe.exec);
  return Array.isArray(exec.command) ? `exec ${exec.command.join(' ')}` : '?';
}

function describeStrategy(spec: Obj): string {
  const strategy = one(spec.strategy);
  const type = str(strategy.type) ?? 'RollingUpdate';
  if (type !== 'RollingUpdate') return type;
  const rolling = one(strategy.rolling_update);
  // Kubernetes' defaults when the block leaves them out.
  return `RollingUpdate (maxSurge ${str(rolling.max_surge) ?? '25%'}, maxUnavailable ${str(rolling.max_unavailable) ?? '25%'})`;
}

export function summarizeDeployments(doc: TerraformJson): DeploymentSummary[] {
  return kubernetesObjects(doc, /^kubernetes_deployment(_v\d+)?$/).map(({ resource, spec, name, namespace }) => {
    const ignored = one(resource.lifecycle).ignore_changes;
    const deployment = name;
    const probes = many(one(one(spec.template).spec).container).flatMap((container) =>
      (['startup', 'readiness', 'liveness'] as const).flatMap((kind) =>
        many(container[`${kind}_probe`]).map((probe) => {
          // Kubernetes' defaults: every 10 s, 3 failures.
          const periodSeconds = num(probe.period_seconds) ?? 10;
          const failureThreshold = num(probe.failure_threshold) ?? 3;
          return {
            deployment,
            container: str(container.name) ?? '?',
            kind,
            check: describeProbeCheck(probe),
            periodSeconds,
            failureThreshold,
            budgetSeconds: periodSeconds * failureThreshold,
          };
        }),
      ),
    );
    return {
      name: deployment,
      namespace,
      replicas: num(spec.replicas),
      replicasIgnored: ignored === 'all' || (Array.isArray(ignored) && ignored.some((path) => /^spec(\[0\])?\.replicas$/.test(String(path)))),
      strategy: describeStrategy(spec),
      waitForRollout: bool(resource.wait_for_rollout, true),
      createTimeout: str(one(resource.timeouts).create),
      probes,
    };
  });
}

export function summarizeJobs(doc: TerraformJson): JobSummary[] {
  return kubernetesObjects(doc, /^kubernetes_job(_v\d+)?$/).map(({ resource, spec, name, namespace }) => {
    return {
      name,
      namespace,
      backoffLimit: num(spec.backoff_limit),
      activeDeadlineSeconds: num(spec.active_deadline_seconds),
      // The provider waits by default (wait_for_completion = true), within a 1-minute create timeout unless set.
      waitForCompletion: bool(resource.wait_for_completion, true),
      createTimeout: str(one(resource.timeouts).create),
      failJobExitCodes: many(one(spec.pod_failure_policy).rule)
        .filter((rule) => rule.action === 'FailJob')
        .flatMap((rule) => many(rule.on_exit_codes).flatMap((codes) => (Array.isArray(codes.values) ? codes.values.map(Number) : []))),
      modelVariant: modelVariant(one(one(spec.template).spec)),
    };
  });
}
