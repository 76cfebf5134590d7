import { stringify } from 'yaml';

/**
 * What the fake kubelet does, as kwok Stages (kwok.x-k8s.io/v1alpha1, the API of kwok's pkg/apis/v1alpha1
 * stage_types.go): the `kwok` binary runs only the stages its configuration gives it (pkg/kwok/cmd/root.go fails with
 * "no stages found"; kwokctl writes its defaults into the configuration it generates). Templates are Go templates
 * over the object, with kwok's functions (Now, Quote, PodIPWith: pkg/kwok/controllers/pod_controller.go).
 *
 * The stages play a kubelet whose images are already pulled and whose containers start at once: pods on a node
 * become Running and Ready, a Job's pods exit 0, and deleted pods go away. Nothing runs, so nothing in a pod ever
 * listens: what needs a server in a pod (webhooks, extension API servers) is stood in for by the harness.
 */
interface Stage {
  readonly name: string;
  readonly kind: 'Node' | 'Pod';
  readonly match: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
  readonly delayMs?: number;
  readonly next: Record<string, unknown>;
  readonly immediateNextStage?: boolean;
}

const READY_STATUS = '.status.conditions.[] | select( .type == "Ready" ) | .status';
const NOT_DELETED = { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' } as const;

// Ready, and none of the pressure conditions the scheduler's TaintNodesByCondition would turn into taints.
const NODE_CONDITIONS = `
{{ $now := Now }}
conditions:
{{ range $type, $status := dict "Ready" "True" "MemoryPressure" "False" "DiskPressure" "False" "PIDPressure" "False" "NetworkUnavailable" "False" }}
- type: {{ $type | Quote }}
  status: {{ $status | Quote }}
  reason: {{ printf "Fake%s" $type | Quote }}
  message: "kwok plays this node's kubelet"
  lastHeartbeatTime: {{ $now | Quote }}
  lastTransitionTime: {{ $now | Quote }}
{{ end }}`;

const STAGES: Stage[] = [
  {
    name: 'node-ready',
    kind: 'Node',
    match: [{ key: READY_STATUS, operator: 'NotIn', values: ['True'] }],
    next: {
      statusTemplate: `${NODE_CONDITIONS}
addresses:
- type: InternalIP
  address: "127.0.0.1"
- type: Hostname
  address: {{ .metadata.name | Quote }}
nodeInfo:
  architecture: amd64
  operatingSystem: linux
  kubeletVersion: "fake"
  containerRuntimeVersion: "kwok"
phase: Running`,
    },
  },
  {
    // The node lifecycle controller marks a node whose status is older than --node-monitor-grace-period (50 s)
    // NotReady and taints it; a heartbeat every 15 s keeps the fake nodes schedulable.
    name: 'node-heartbeat',
    kind: 'Node',
    match: [{ key: READY_STATUS, operator: 'In', values: ['True'] }],
    delayMs: 15_000,
    next: { statusTemplate: NODE_CONDITIONS },
    immediateNextStage: true,
  },
  {
    name: 'pod-running',
    kind: 'Pod',
    match: [NOT_DELETED, { key: '.spec.nodeName', operator: 'Exists' }, { key: '.status.phase', operator: 'In', values: ['Pending'] }],
    next: {
      statusTemplate: `{{ $now := Now }}
phase: Running
startTime: {{ $now | Quote }}
conditions:
{{ range list "PodScheduled" "Initialized" "ContainersReady" "Ready" }}
- type: {{ . | Quote }}
  status: "True"
  lastTransitionTime: {{ $now | Quote }}
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ .image | Quote }}
  ready: true
  restartCount: 0
  state:
    terminated: { exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} }
{{ end }}
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ .image | Quote }}
  ready: true
  started: true
  restartCount: 0
  state:
    running: { startedAt: {{ $now | Quote }} }
{{ end }}
hostIP: "127.0.0.1"
{{ with PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
podIP: {{ . | Quote }}
podIPs:
- ip: {{ . | Quote }}
{{ end }}`,
    },
  },
  {
    // A Job's pod (the conversion, kube-prometheus-stack's certificate Jobs) exits 0 as soon as it runs.
    name: 'job-pod-succeeded',
    kind: 'Pod',
    match: [NOT_DELETED, { key: '.status.phase', operator: 'In', values: ['Running'] }, { key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job'] }],
    delayMs: 1000,
    next: {
      statusTemplate: `{{ $now := Now }}
phase: Succeeded
conditions:
- { type: Ready, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }} }
- { type: ContainersReady, status: "False", reason: PodCompleted, lastTransitionTime: {{ $now | Quote }} }
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  image: {{ .image | Quote }}
  imageID: {{ .image | Quote }}
  ready: false
  started: false
  restartCount: 0
  state:
    terminated: { exitCode: 0, reason: Completed, startedAt: {{ $now | Quote }}, finishedAt: {{ $now | Quote }} }
{{ end }}`,
    },
  },
  {
    // A kubelet confirms a graceful deletion once the containers stopped; nothing runs here, so at once.
    name: 'pod-gone',
    kind: 'Pod',
    match: [{ key: '.metadata.deletionTimestamp', operator: 'Exists' }],
    next: { delete: true },
  },
];

/** The kwok configuration file's content: one Stage document per stage. */
export function kwokConfiguration(): string {
  return STAGES.map((stage) =>
    stringify({
      apiVersion: 'kwok.x-k8s.io/v1alpha1',
      kind: 'Stage',
      metadata: { name: stage.name },
      spec: {
        resourceRef: { apiGroup: 'v1', kind: stage.kind },
        selector: { matchExpressions: stage.match },
        ...(stage.delayMs !== undefined ? { delay: { durationMilliseconds: stage.delayMs, jitterDurationMilliseconds: stage.delayMs + 5000 } } : {}),
        next: stage.next,
        ...(stage.immediateNextStage ? { immediateNextStage: true } : {}),
      },
    }),
  ).join('---\n');
}
