/** Who can reach the workloads (Services, NetworkPolicies) and what they store (PersistentVolumeClaims). */

import { kubernetesObjects, labels, many, Obj, one, resolveReferences, str, TerraformJson } from './terraform-json';

export interface PvcSummary {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly size: string | undefined;
  readonly accessModes: string[];
  /** Undefined: the cluster's default StorageClass. */
  readonly storageClass: string | undefined;
}

export interface ServiceSummary {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly type: string;
  readonly ports: string[];
}

export interface NetworkPolicyRule {
  readonly policy: string;
  readonly ports: string;
  readonly sources: string;
}

export function summarizeVolumeClaims(doc: TerraformJson): PvcSummary[] {
  return kubernetesObjects(doc, /^kubernetes_persistent_volume_claim/).map(({ spec, name, namespace }) => {
    return {
      name,
      namespace,
      size: str(one(one(spec.resources).requests).storage),
      accessModes: Array.isArray(spec.access_modes) ? spec.access_modes.map((mode) => str(mode) ?? '?') : [],
      storageClass: str(spec.storage_class_name),
    };
  });
}

export function summarizeServices(doc: TerraformJson): ServiceSummary[] {
  return kubernetesObjects(doc, /^kubernetes_service(_v\d+)?$/).map(({ spec, name, namespace }) => {
    return {
      name,
      namespace,
      type: str(spec.type) ?? 'ClusterIP',
      ports: many(spec.port).map((port) => {
        const target = str(port.target_port);
        return `${str(port.name) ?? '?'} ${str(port.port) ?? '?'}${target !== undefined ? `→${target}` : ''}/${str(port.protocol) ?? 'TCP'}`;
      }),
    };
  });
}

function describePeer(doc: TerraformJson, peer: Obj): string {
  const parts: string[] = [];
  const namespaces = one(peer.namespace_selector);
  const pods = one(peer.pod_selector);
  if (peer.namespace_selector !== undefined) parts.push(`namespaces {${resolveReferences(doc, labels(namespaces.match_labels)) || 'all'}}`);
  if (peer.pod_selector !== undefined) parts.push(`pods {${labels(pods.match_labels) || 'all'}}`);
  const block = one(peer.ip_block);
  if (block.cidr !== undefined) parts.push(`CIDR ${str(block.cidr) ?? '?'}`);
  return parts.join(' & ') || '?';
}

/** One row per ingress rule: the ports it opens and who may reach them. */
export function summarizeNetworkPolicies(doc: TerraformJson): NetworkPolicyRule[] {
  return kubernetesObjects(doc, /^kubernetes_network_policy/).flatMap(({ spec, name: policy }) => {
    const rules = many(spec.ingress);
    if (rules.length === 0) return [{ policy, ports: 'all', sources: 'none (ingress denied)' }];
    return rules.map((rule) => {
      const ports = many(rule.ports).map((p) => `${str(p.port) ?? '*'}/${str(p.protocol) ?? 'TCP'}`);
      const peers = many(rule.from).map((peer) => describePeer(doc, peer));
      return { policy, ports: ports.join(', ') || 'all', sources: peers.join('; ') || 'anywhere' };
    });
  });
}
