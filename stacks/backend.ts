import { LocalBackend, TerraformStack } from 'cdktf';

/**
 * Local state at the repository root, written as a path relative to the stack's synthesized directory
 * (cdktf.out/stacks/<stack>), where Terraform runs. cdktf's default is an absolute path of the machine that ran
 * synth, which makes the synthesized files differ between machines. Teams replace this with a remote backend.
 */
export function repositoryLocalBackend(stack: TerraformStack, stackName: string): LocalBackend {
  return new LocalBackend(stack, { path: `../../../terraform.${stackName}.tfstate` });
}
