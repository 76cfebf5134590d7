import { Construct } from 'constructs';
import { CloudBackend, NamedCloudWorkspace, RemoteBackend } from 'cdktf';

/** How cdktf's HCL renderer is told to write a nested block with string attributes (as CloudBackend does). */
function stringBlock(attributes: Record<string, string | undefined>): Record<string, unknown> {
  const value = Object.fromEntries(
    Object.entries(attributes)
      .filter((entry): entry is [string, string] => entry[1] !== undefined)
      .map(([key, text]) => [key, { value: text, type: 'simple', storageClassType: 'string' }]),
  );
  return { value, isBlock: true, type: 'map', storageClassType: 'stringmap' };
}

/**
 * The `remote` backend with a named workspace. cdktf 0.21 writes its `workspaces` as an attribute in HCL
 * (lib/backends/remote-backend.js, synthesizeHclAttributes), which `terraform init` refuses ("Did you mean to define
 * a block of type workspaces?"); the JSON output is right. This writes the block.
 */
export class NamedWorkspaceRemoteBackend extends RemoteBackend {
  constructor(
    scope: Construct,
    private readonly settings: { hostname: string; organization: string; workspaceName: string },
  ) {
    super(scope, { hostname: settings.hostname, organization: settings.organization, workspaces: { name: settings.workspaceName } });
  }

  protected synthesizeHclAttributes(): Record<string, unknown> {
    return { ...super.synthesizeHclAttributes(), workspaces: stringBlock({ name: this.settings.workspaceName }) };
  }
}

/**
 * The `cloud` block with a named workspace in a project. cdktf 0.21 leaves the workspace's `project` out of the HCL
 * (lib/backends/cloud-backend.js, NamedCloudWorkspace.toHclTerraform) while the JSON keeps it, so `synth --hcl`
 * would create the workspaces in the organization's default project. This writes it.
 */
export class ProjectWorkspaceCloudBackend extends CloudBackend {
  constructor(
    scope: Construct,
    private readonly settings: { hostname: string; organization: string; workspaceName: string; project: string | undefined },
  ) {
    super(scope, { hostname: settings.hostname, organization: settings.organization, workspaces: new NamedCloudWorkspace(settings.workspaceName, settings.project) });
  }

  protected synthesizeHclAttributes(): Record<string, unknown> {
    return { ...super.synthesizeHclAttributes(), workspaces: stringBlock({ name: this.settings.workspaceName, project: this.settings.project }) };
  }
}
