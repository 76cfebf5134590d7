import { Construct } from 'constructs';
import { PodDisruptionBudgetV1 } from '../lib/provider-classes';
import { ValidationError } from '../lib/validation-error';
import { TritonServer } from './triton-server';

export interface TritonDisruptionBudgetProps {
  /** The server whose pods the budget protects. */
  readonly server: TritonServer;
  /**
   * Pods a voluntary disruption (node drain, upgrade) may take down at once. `maxUnavailable` rather than
   * `minAvailable`, so a single replica never blocks a node drain forever.
   * @default 1
   */
  readonly maxUnavailable?: number;
}

/** Limits how many Triton pods node drains and cluster upgrades may evict at the same time. */
export class TritonDisruptionBudget extends Construct {
  readonly maxUnavailable: number;
  readonly budget: PodDisruptionBudgetV1;

  constructor(scope: Construct, id: string, props: TritonDisruptionBudgetProps) {
    super(scope, id);
    this.maxUnavailable = props.maxUnavailable ?? 1;
    if (!Number.isInteger(this.maxUnavailable) || this.maxUnavailable < 1) {
      throw new ValidationError(`maxUnavailable (${this.maxUnavailable}) must be a whole number, at least 1: 0 would block every node drain`, this);
    }
    this.budget = new PodDisruptionBudgetV1(this, 'budget', {
      metadata: { name: props.server.name, namespace: props.server.namespace, labels: props.server.labels },
      spec: { maxUnavailable: String(this.maxUnavailable), selector: { matchLabels: props.server.selectorLabels } },
    });
  }
}
