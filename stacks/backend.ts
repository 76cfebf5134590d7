import { AzurermBackend, GcsBackend, LocalBackend, S3Backend, TerraformBackend, TerraformStack } from 'cdktf';
import { NamedWorkspaceRemoteBackend, ProjectWorkspaceCloudBackend } from '../lib/hcp-backends';
import { StateConfig } from '../config/state';
import { KubernetesBackend } from '../lib/kubernetes-backend';

/** How Terraform reaches the cluster; the kubernetes backend reads the same kubeconfig as the providers. */
export interface ClusterAccess {
  readonly configPath: string;
  readonly configContext?: string;
}

/**
 * The stack's Terraform backend, one state per stack. Every backend gets the stack name in its key, prefix,
 * Secret or workspace, so the two stacks never share a state. Cross-stack references become
 * `terraform_remote_state` data sources that cdktf builds from this same backend (getRemoteStateDataSource).
 */
export function configureStateBackend(stack: TerraformStack, stackName: string, state: StateConfig, cluster: ClusterAccess): TerraformBackend {
  switch (state.backend) {
    case 'local': {
      // Relative to the stack's synthesized directory (cdktf.out/stacks/<stack>), where Terraform runs. cdktf's
      // default is an absolute path of the machine that ran synth, which would make the output differ per machine.
      // Non-default workspaces keep their state in workspace_dir, by default inside that directory, which synth
      // output is: it goes beside the default state instead (hashicorp/terraform internal/backend/local/backend.go).
      const base = `../../../${state.directory === '.' ? '' : `${state.directory.replace(/\/$/, '')}/`}terraform.${stackName}`;
      return new LocalBackend(stack, { path: `${base}.tfstate`, workspaceDir: `${base}.tfstate.d` });
    }
    case 's3':
      // S3 native locking (use_lockfile) exists from Terraform 1.10 (README "Remote state"). Not written as
      // required_version: cdktf 0.21 renders an override of the terraform block as broken HCL.
      return new S3Backend(stack, {
        bucket: state.bucket,
        region: state.region,
        key: `${state.keyPrefix}/${stackName}.tfstate`,
        encrypt: state.encrypt,
        dynamodbTable: state.dynamodbTable,
        // cdktf 0.21's typed config predates use_lockfile; S3Backend writes every given key in snake case.
        ...({ useLockfile: state.useLockfile } as object),
      });
    case 'gcs':
      return new GcsBackend(stack, { bucket: state.bucket, prefix: `${state.prefix}/${stackName}` });
    case 'azurerm':
      return new AzurermBackend(stack, {
        resourceGroupName: state.resourceGroupName,
        storageAccountName: state.storageAccountName,
        containerName: state.containerName,
        key: `${state.keyPrefix}/${stackName}.tfstate`,
        useAzureadAuth: state.useAzureadAuth,
      });
    case 'kubernetes':
      return new KubernetesBackend(stack, {
        secret_suffix: `${state.secretSuffixPrefix}-${stackName}`,
        namespace: state.namespace,
        config_path: cluster.configPath,
        ...(cluster.configContext === undefined ? {} : { config_context: cluster.configContext }),
      });
    case 'remote':
      return new NamedWorkspaceRemoteBackend(stack, { hostname: state.hostname, organization: state.organization, workspaceName: `${state.workspacePrefix}${stackName}` });
    case 'cloud':
      return new ProjectWorkspaceCloudBackend(stack, {
        hostname: state.hostname,
        organization: state.organization,
        workspaceName: `${state.workspacePrefix}${stackName}`,
        project: state.project,
      });
  }
}
