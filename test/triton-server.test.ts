import { execFileSync } from 'child_process';
import { App, Testing, TerraformStack } from 'cdktf';
import { parseConfig } from '../config/load';
import { GpuAutoscaler } from '../constructs/gpu-autoscaler';
import { ModelConversionJob, ModelConversionJobProps } from '../constructs/model-conversion-job';
import { ModelRepository } from '../constructs/model-repository';
import { ServingNamespace } from '../constructs/serving-namespace';
import { TritonDisruptionBudget } from '../constructs/triton-disruption-budget';
import { TritonServer, TritonServerProps } from '../constructs/triton-server';
import { GpuScheduling } from '../lib/gpu-scheduling';
import { findResource, synthesize } from './support/synth';

function triton(input = {}) {
  const synthesized = synthesize(input);
  const deployment = findResource(synthesized.serving, 'kubernetes_deployment_v1', 'triton');
  const pod = deployment.spec.template.spec;
  return { synthesized, deployment, pod, container: pod.container[0], stack: synthesized.stacks.serving };
}

function serverWith(
  props: Partial<TritonServerProps>,
  accessMode: 'ReadWriteMany' | 'ReadWriteOnce' = 'ReadWriteMany',
  jobProps: Partial<ModelConversionJobProps> = {},
) {
  const stack = new TerraformStack(Testing.app() as App, 'test');
  const gpuScheduling = new GpuScheduling(parseConfig({}).gpu);
  const modelRepository = new ModelRepository(stack, 'repo', { namespace: new ServingNamespace(stack, 'ns', { name: 'omniglue' }), accessMode });
  const conversionJob = new ModelConversionJob(stack, 'job', { modelRepository, gpuScheduling, ...jobProps });
  return () => new TritonServer(stack, 'triton', { modelRepository, conversionJob, gpuScheduling, ...props });
}

describe('TritonServer', () => {
  test('runs the pinned Triton image with one GPU', () => {
    const { container } = triton();
    expect(container.image).toBe('nvcr.io/nvidia/tritonserver:26.06-py3');
    expect(container.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(container.resources.requests).toMatchObject({ cpu: '2', memory: '6Gi' });
    expect(container.resources.limits.memory).toBe('10Gi');
  });

  test('tolerates the GPU taint and requires a GPU node', () => {
    const { pod } = triton();
    expect(pod.toleration).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_term[0].match_expressions).toEqual([
      { key: 'feature.node.kubernetes.io/pci-10de.present', operator: 'In', values: ['true'] },
    ]);
  });

  test('can pin a GPU product and a runtime class', () => {
    const { pod } = triton({ gpu: { product: 'NVIDIA-A10G', runtimeClassName: 'nvidia' } });
    expect(pod.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_term[0].match_expressions).toContainEqual({
      key: 'nvidia.com/gpu.product', operator: 'In', values: ['NVIDIA-A10G'],
    });
    expect(pod.runtime_class_name).toBe('nvidia');
  });

  test('waits for the conversion Job and serves the version it published', () => {
    const { deployment, container, stack } = triton();
    const version = stack.conversionJob.version;
    expect(deployment.depends_on).toEqual([expect.stringMatching(/^kubernetes_job_v1\.model-conversion_job_/)]);
    expect(deployment.spec.template.metadata.annotations['omniglue.dev/model-version']).toBe(version);
    expect(container.args[0]).toContain(`--model-repository=/models/versions/${version}`);
  });

  test('a new model version changes the pod template; settings that do not change the models do not', () => {
    const annotation = (input: object) => triton(input).deployment.spec.template.metadata.annotations['omniglue.dev/model-version'];
    expect(annotation({ triton: { replicas: { max: 6 } }, conversion: { memoryLimit: '20Gi', backoffLimit: 4 } })).toBe(annotation({}));
    expect(annotation({ conversion: { tensorrtFp16: true } })).not.toBe(annotation({}));
  });

  test('serves an immutable repository with strict readiness and metrics on 8002', () => {
    const command = triton().container.args[0];
    for (const flag of ['--model-control-mode=none', '--strict-readiness=true', '--metrics-port=8002', '--allow-gpu-metrics=true', '--metrics-config=histogram_latencies=true', '--http-port=8000', '--grpc-port=8001']) {
      expect(command).toContain(flag);
    }
  });

  test('closes the model-repository and other admin APIs unless asked to open them', () => {
    expect(triton().container.args[0]).toMatch(/--http-restricted-api=model-repository,model-config,shared-memory,trace,logging:omniglue-admin-key=\$ADMIN_KEY/);
    expect(triton({ triton: { enableModelControlApi: true } }).container.args[0]).not.toContain('restricted');
  });

  test('the admin key is a fresh 64-hex-digit value in every pod', () => {
    const command = triton().container.args[0].replace('exec tritonserver', 'echo');
    const run = () => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' }).match(/omniglue-admin-key=(\S+)/)?.[1];
    const [first, second] = [run(), run()];
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(second).not.toBe(first);
  });

  test('mounts the model repository read-only and sizes a memory-backed /dev/shm', () => {
    const { container, pod } = triton();
    expect(container.volume_mount).toContainEqual({ name: 'model-repository', mount_path: '/models', read_only: true });
    expect(pod.volume).toContainEqual({ name: 'model-repository', persistent_volume_claim: { claim_name: expect.any(String), read_only: true } });
    expect(pod.volume).toContainEqual({ name: 'dshm', empty_dir: { medium: 'Memory', size_limit: '2048Mi' } });
    expect(container.volume_mount).toContainEqual({ name: 'dshm', mount_path: '/dev/shm' });
    expect(container.volume_mount).toContainEqual({ name: 'tmp', mount_path: '/tmp' });
  });

  test('probes: a startup budget for model load, readiness and liveness on the v2 health endpoints', () => {
    const { container } = triton();
    expect(container.startup_probe.http_get).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(container.startup_probe.period_seconds * container.startup_probe.failure_threshold).toBeGreaterThanOrEqual(900);
    expect(container.readiness_probe.http_get.path).toBe('/v2/health/ready');
    expect(container.liveness_probe.http_get.path).toBe('/v2/health/live');
    expect(container.port.map((p: any) => [p.name, p.container_port])).toEqual([['http', 8000], ['grpc', 8001], ['metrics', 8002]]);
  });

  test('is hardened: non-root, no capabilities, no privilege escalation, RuntimeDefault seccomp, read-only root', () => {
    const { synthesized, pod, container } = triton();
    expect(pod.security_context).toMatchObject({ run_as_non_root: true, run_as_user: '1000', seccomp_profile: { type: 'RuntimeDefault' } });
    expect(container.security_context).toMatchObject({
      run_as_non_root: true, allow_privilege_escalation: false, read_only_root_filesystem: true, capabilities: { drop: ['ALL'] }, seccomp_profile: { type: 'RuntimeDefault' },
    });
    expect(pod.automount_service_account_token).toBe(false);
    const account = findResource(synthesized.serving, 'kubernetes_service_account_v1', 'triton');
    expect(account.automount_service_account_token).toBe(false);
  });

  test('rolls out without losing capacity, spreads across nodes and drains on shutdown', () => {
    const { deployment, pod, container } = triton();
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rolling_update: { max_surge: '1', max_unavailable: '0' } });
    expect(pod.topology_spread_constraint.map((c: any) => c.topology_key)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    expect(pod.termination_grace_period_seconds).toBe(60);
    expect(container.lifecycle.pre_stop[0].exec.command).toEqual(['sleep', '10']);
    expect(container.args[0]).toContain('--exit-timeout-secs=45');
  });

  test('recreates pods instead of surging when the volume is ReadWriteOnce', () => {
    const { deployment } = triton({ modelRepository: { accessMode: 'ReadWriteOnce' }, triton: { replicas: { min: 1, max: 1 } } });
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
  });

  test('leaves the replica count to the autoscaler', () => {
    expect(triton().deployment.lifecycle).toEqual({ ignore_changes: ['spec[0].replicas'] });
    expect(triton({ autoscaling: { enabled: false } }).deployment).not.toHaveProperty('lifecycle');
  });

  test('waits for a rollout that replaces every replica in turn, each with its model-load budget', () => {
    expect(triton().deployment.timeouts).toEqual({ create: '100m', update: '100m' });
    expect(triton({ triton: { replicas: { min: 1, max: 1 } } }).deployment.timeouts).toEqual({ create: '25m', update: '25m' });
  });

  test('fails when the startup budget is shorter than the model load', () => {
    expect(serverWith({ startupTimeoutSeconds: 60, expectedModelLoadSeconds: 300 })).toThrow(/startupTimeoutSeconds \(60\) is shorter than expectedModelLoadSeconds \(300\)/);
  });

  test('fails when several replicas would share a ReadWriteOnce volume', () => {
    expect(serverWith({ maxReplicas: 2 }, 'ReadWriteOnce')).toThrow(/maxReplicas is 2, but the model repository's access mode ReadWriteOnce/);
  });

  test('fails when minReplicas exceeds maxReplicas', () => {
    expect(serverWith({ minReplicas: 3, maxReplicas: 2 })).toThrow(/minReplicas \(3\) must be less than or equal to maxReplicas \(2\)/);
  });

  test('fails when /dev/shm does not fit in the memory limit', () => {
    expect(serverWith({ shmSizeMiB: 4096, resources: { memoryLimit: '4Gi' } })).toThrow(/shmSizeMiB \(4096\) must be smaller than resources\.memoryLimit \(4Gi\): \/dev\/shm is memory-backed/);
  });

  test('fails when the grace period leaves no time to drain', () => {
    expect(serverWith({ terminationGracePeriodSeconds: 10 })).toThrow(/terminationGracePeriodSeconds \(10\) must be between 16 and 3600 \(seconds: more than the 10 s preStop sleep plus 5 s to drain requests\)/);
  });

  test('fails on a negative GPU count', () => {
    expect(serverWith({ gpusPerReplica: -1 })).toThrow(/gpusPerReplica \(-1\) must be between 0 and 16/);
  });

  test('a GPU autoscaler on a server without GPUs is an error', () => {
    const create = serverWith({ gpusPerReplica: 0 }, 'ReadWriteMany', { cpuOnlyInstances: true });
    const server = create();
    expect(() => new GpuAutoscaler(server, 'hpa', { server })).toThrow(/gpusPerReplica is 0, so there is no GPU utilization to scale on/);
  });

  test('a disruption budget of 0 is an error', () => {
    const server = serverWith({})();
    expect(() => new TritonDisruptionBudget(server, 'pdb', { server, maxUnavailable: 0 })).toThrow(/maxUnavailable \(0\) must be a whole number, at least 1/);
  });
});

describe('Service, PodDisruptionBudget and NetworkPolicy', () => {
  test('the Service selects exactly the server’s pods on 8000, 8001 and 8002', () => {
    const { synthesized, deployment } = triton();
    const service = findResource(synthesized.serving, 'kubernetes_service_v1', 'triton');
    expect(service.spec.type).toBe('ClusterIP');
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(deployment.spec.selector.match_labels).toEqual(service.spec.selector);
    expect(service.spec.port.map((p: any) => [p.name, p.port])).toEqual([['http', 8000], ['grpc', 8001], ['metrics', 8002]]);
  });

  test('the disruption budget covers the same pods and allows one eviction at a time', () => {
    const { synthesized, deployment } = triton();
    const budget = findResource(synthesized.serving, 'kubernetes_pod_disruption_budget_v1', 'triton');
    expect(budget.spec.max_unavailable).toBe('1');
    expect(budget.spec.selector.match_labels).toEqual(deployment.spec.selector.match_labels);
  });

  test('inference ports are open to allowed namespaces only, metrics to the monitoring namespace only', () => {
    const { synthesized, deployment } = triton({ triton: { allowedClientNamespaces: ['gateway'] } });
    const policy = findResource(synthesized.serving, 'kubernetes_network_policy_v1', 'triton');
    expect(policy.spec.pod_selector.match_labels).toEqual(deployment.spec.selector.match_labels);
    expect(policy.spec.policy_types).toEqual(['Ingress']);
    const [inference, metrics] = policy.spec.ingress;
    const names = (rule: any) => rule.from.map((f: any) => f.namespace_selector.match_labels['kubernetes.io/metadata.name']);
    expect(names(inference)).toEqual(['gateway', 'omniglue']);
    expect(inference.ports.map((p: any) => p.port)).toEqual(['8000', '8001']);
    // The namespace of the platform stack's Prometheus release, read from its state (see test/state-backends.test.ts).
    expect(names(metrics)).toEqual([expect.stringMatching(/^\$\{data\.terraform_remote_state\.cross-stack-reference-input-gpu-platform\.outputs\.[^}]+namespace\}$/)]);
    expect(metrics.ports.map((p: any) => p.port)).toEqual(['8002']);
  });

  test('outputs the in-cluster URLs and a port-forward command', () => {
    const { output } = synthesize().serving;
    expect(output['triton-http-url'].value).toBe('http://omniglue-triton.omniglue.svc.cluster.local:8000');
    expect(output['triton-grpc-address'].value).toBe('omniglue-triton.omniglue.svc.cluster.local:8001');
    expect(output['port-forward-command'].value).toBe('kubectl --namespace omniglue port-forward service/omniglue-triton 8000:8000 8001:8001');
  });
});
