import { AzurermBackend, GcsBackend, LocalBackend, S3Backend, TerraformBackend, TerraformStack } from 'cdktf';
import { NamedWorkspaceRemoteBackend, ProjectWorkspaceCloudBackend } from '../lib/hcp-backends';
import { StateConfig } from '../config/state';
import { KubernetesBackend } from '../lib/kubernetes-backend';
import { ClusterAccess, stateLocation } from '../config/state-location';

export type { ClusterAccess } from '../config/state-location';

/**
 * The stack's Terraform backend, one state per stack and environment (config/state-location.ts names them).
 * Cross-stack references become `terraform_remote_state` data sources that cdktf builds from this same backend
 * (getRemoteStateDataSource), so the serving stack reads its own environment's platform state.
 */
export function configureStateBackend(
  stack: TerraformStack,
  stackName: string,
  state: StateConfig,
  cluster: ClusterAccess,
  environment?: string,
): TerraformBackend {
  const location = stateLocation(state, stackName, environment, cluster);
  switch (state.backend) {
    case 'local':
      return new LocalBackend(stack, { path: location.localPath, workspaceDir: location.localWorkspaceDir });
    case 's3':
      // S3 native locking (use_lockfile) exists from Terraform 1.10 (README "Remote state"). Not written as
      // required_version: cdktf 0.21 renders an override of the terraform block as broken HCL.
      return new S3Backend(stack, {
        bucket: state.bucket,
        region: state.region,
        key: location.key,
        encrypt: state.encrypt,
        dynamodbTable: state.dynamodbTable,
        // cdktf 0.21's typed config predates use_lockfile; S3Backend writes every given key in snake case.
        ...({ useLockfile: state.useLockfile } as object),
      });
    case 'gcs':
      return new GcsBackend(stack, { bucket: state.bucket, prefix: location.gcsPrefix });
    case 'azurerm':
      return new AzurermBackend(stack, {
        resourceGroupName: state.resourceGroupName,
        storageAccountName: state.storageAccountName,
        containerName: state.containerName,
        key: location.key,
        useAzureadAuth: state.useAzureadAuth,
      });
    case 'kubernetes':
      return new KubernetesBackend(stack, {
        secret_suffix: location.secretSuffix,
        namespace: state.namespace,
        config_path: cluster.configPath,
        ...(cluster.configContext === undefined ? {} : { config_context: cluster.configContext }),
      });
    case 'remote':
      return new NamedWorkspaceRemoteBackend(stack, { hostname: state.hostname, organization: state.organization, workspaceName: location.workspaceName });
    case 'cloud':
      return new ProjectWorkspaceCloudBackend(stack, {
        hostname: state.hostname,
        organization: state.organization,
        workspaceName: location.workspaceName,
        project: state.project,
      });
  }
}
