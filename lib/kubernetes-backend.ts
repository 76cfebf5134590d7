import { Construct } from 'constructs';
import { DataTerraformRemoteStateConfig, TerraformBackend, TerraformRemoteState } from 'cdktf';

/**
 * Terraform's `kubernetes` backend (state in a Secret, locked with a Lease), which cdktf 0.21 has no class for.
 * Attribute names are Terraform's: developer.hashicorp.com/terraform/language/backend/kubernetes
 * (hashicorp/terraform `internal/backend/remote-state/kubernetes/backend.go`).
 */
export interface KubernetesBackendConfig {
  /** Suffix of the state Secret's name, `tfstate-<workspace>-<secret_suffix>`. */
  readonly secret_suffix: string;
  /** Namespace of the Secret. */
  readonly namespace: string;
  /** kubeconfig path (`~` is expanded by Terraform). */
  readonly config_path: string;
  /** kubeconfig context; unset uses the current context. */
  readonly config_context?: string;
}

export class KubernetesBackend extends TerraformBackend {
  constructor(
    scope: Construct,
    private readonly config: KubernetesBackendConfig,
  ) {
    super(scope, 'backend', 'kubernetes');
  }

  protected synthesizeAttributes(): Record<string, unknown> {
    return { ...this.config };
  }

  protected synthesizeHclAttributes(): Record<string, unknown> {
    return { ...this.config };
  }

  getRemoteStateDataSource(scope: Construct, name: string, _fromStack: string): TerraformRemoteState {
    return new DataTerraformRemoteStateKubernetes(scope, name, { ...this.config, workspace: '${terraform.workspace}' });
  }
}

/** `terraform_remote_state` over the kubernetes backend: how another stack reads this one's outputs. */
export class DataTerraformRemoteStateKubernetes extends TerraformRemoteState {
  constructor(scope: Construct, id: string, config: DataTerraformRemoteStateConfig & KubernetesBackendConfig) {
    super(scope, id, 'kubernetes', config);
  }
}
