/**
 * Where one stack of one environment keeps its Terraform state. Every backend gets the stack name, and a named
 * environment (OMNIGLUE_ENV) its name too, in its file, key, prefix, Secret suffix or workspace: two environments
 * never read or write each other's state, and switching OMNIGLUE_ENV needs no `terraform init -migrate-state`.
 * The configuration without OMNIGLUE_ENV keeps the locations it always had.
 *
 * Pure (no cdktf): stacks/backend.ts builds the backends from it, and the configuration loader checks with the same
 * `identity` that no two environments share a state (config/environment-isolation.ts).
 */

import * as path from 'path';
import type { StateConfig } from './state';
import { environmentOutdir } from '../lib/environment-output';

export interface ClusterAccess {
  readonly configPath: string;
  readonly configContext?: string;
}

export interface StateLocation {
  /** What distinguishes this state from every other: equal identities are one and the same state. */
  readonly identity: string;
  /** local: state file and workspace directory, relative to the stack's synthesized directory (where Terraform runs). */
  readonly localPath: string;
  readonly localWorkspaceDir: string;
  /** s3, azurerm: object key; gcs: prefix. */
  readonly key: string;
  readonly gcsPrefix: string;
  /** kubernetes: suffix of the Secret `tfstate-<workspace>-<suffix>`. */
  readonly secretSuffix: string;
  /** remote, cloud: workspace name. */
  readonly workspaceName: string;
}

/** Kubernetes label values, which the kubernetes backend writes the Secret suffix into, hold at most 63 characters. */
export const MAX_SECRET_SUFFIX = 63;

export function stateLocation(state: StateConfig, stack: string, environment: string | undefined, cluster: ClusterAccess): StateLocation {
  const env = environment === undefined ? [] : [environment];
  // Relative to cdktf.out[/environments/<env>]/stacks/<stack>, where Terraform runs: a relative path keeps the synthesized
  // JSON the same on every machine (cdktf's default would be absolute). Non-default workspaces go beside the state,
  // not into workspace_dir's default inside the synth output (hashicorp/terraform internal/backend/local/backend.go).
  const stackDir = path.posix.join(environmentOutdir(environment), 'stacks', stack);
  const toRoot = path.posix.relative(stackDir, '.');
  const directory = state.backend === 'local' && state.directory !== '.' ? state.directory.replace(/\/$/, '') : '';
  const localFile = path.posix.join(directory, ['terraform', ...env, stack, 'tfstate'].join('.'));
  const key = [state.backend === 's3' || state.backend === 'azurerm' ? state.keyPrefix : '', ...env, `${stack}.tfstate`].filter(Boolean).join('/');
  const gcsPrefix = [state.backend === 'gcs' ? state.prefix : '', ...env, stack].filter(Boolean).join('/');
  const secretSuffix = [state.backend === 'kubernetes' ? state.secretSuffixPrefix : '', ...env, stack].filter(Boolean).join('-');
  const workspaceName = `${state.backend === 'remote' || state.backend === 'cloud' ? state.workspacePrefix : ''}${[...env, stack].join('-')}`;
  const identity = (() => {
    switch (state.backend) {
      case 'local':
        return `local file ${path.posix.normalize(localFile)}`;
      case 's3':
        return `s3://${state.bucket}/${key}`;
      case 'gcs':
        return `gs://${state.bucket}/${gcsPrefix}`;
      case 'azurerm':
        return `azurerm ${state.storageAccountName}/${state.containerName}/${key}`;
      case 'kubernetes':
        return `Secret ${state.namespace}/tfstate-default-${secretSuffix} (kubeconfig ${cluster.configPath}, context ${cluster.configContext ?? '(current)'})`;
      case 'remote':
      case 'cloud':
        return `workspace ${state.hostname}/${state.organization}/${workspaceName}`;
    }
  })();
  return {
    identity,
    localPath: path.posix.join(toRoot, localFile),
    localWorkspaceDir: path.posix.join(toRoot, `${localFile}.d`),
    key,
    gcsPrefix,
    secretSuffix,
    workspaceName,
  };
}
