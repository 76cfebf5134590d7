import type { KubeClient } from './control-plane/kube-client';

/** `group/Kind namespace/name`, one per object: what "nothing of ours stays" is checked on. */
export type Inventory = Set<string>;

interface ApiResource {
  readonly name: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly verbs: string[];
}

// Objects the control plane writes and rewrites by itself: they come and go whatever was deployed.
const CHURN = new Set(['events', 'leases', 'endpoints', 'endpointslices', 'controllerrevisions', 'ipaddresses', 'componentstatuses']);

async function groupVersions(client: KubeClient): Promise<string[]> {
  const groups = (await client.get('/apis'))?.groups ?? [];
  return ['v1', ...groups.map((g: { preferredVersion: { groupVersion: string } }) => g.preferredVersion.groupVersion)];
}

/**
 * Every object of every listable resource (preferred version of each group), cluster-wide. Discovery of an
 * unavailable aggregated API fails the inventory: an unreachable APIService would hide objects.
 */
export async function takeInventory(client: KubeClient): Promise<Inventory> {
  const inventory: Inventory = new Set();
  for (const groupVersion of await groupVersions(client)) {
    const base = groupVersion === 'v1' ? '/api/v1' : `/apis/${groupVersion}`;
    const resources: ApiResource[] = (await client.get(base))?.resources ?? [];
    const group = groupVersion.includes('/') ? groupVersion.split('/')[0] : 'core';
    for (const resource of resources) {
      if (resource.name.includes('/') || !resource.verbs.includes('list') || CHURN.has(resource.name)) continue;
      for (const item of await client.list(`${base}/${resource.name}`)) {
        inventory.add(`${group}/${resource.kind} ${item.metadata.namespace ? `${item.metadata.namespace}/` : ''}${item.metadata.name}`);
      }
    }
  }
  return inventory;
}

/** What is in `after` and was not in `before`, sorted. */
export function added(before: Inventory, after: Inventory): string[] {
  return [...after].filter((entry) => !before.has(entry)).sort();
}
