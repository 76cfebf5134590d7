import { App } from 'cdktf';
import { OmniglueConfig } from '../config/schema';
import { writeExactHclStrings } from '../lib/hcl-output';
import { escapeTemplateTextOf } from '../lib/terraform-text';
import { GpuPlatformStack } from './gpu-platform-stack';
import { OmniglueServingStack } from './omniglue-serving-stack';

export { GpuPlatformStack } from './gpu-platform-stack';
export { OmniglueServingStack } from './omniglue-serving-stack';

/** Stack names are Terraform state names: renaming one orphans its state. */
export const STACK_NAMES = { platform: 'gpu-platform', serving: 'omniglue-serving' } as const;

export interface OmniglueStacks {
  readonly platform: GpuPlatformStack;
  readonly serving: OmniglueServingStack;
}

/** Both stacks, with the serving stack deployed after the platform it runs on. */
export function createStacks(app: App, config: OmniglueConfig): OmniglueStacks {
  const platform = new GpuPlatformStack(app, STACK_NAMES.platform, { config });
  const serving = new OmniglueServingStack(app, STACK_NAMES.serving, {
    config,
    customMetrics: platform.customMetrics,
    monitoringNamespace: platform.monitoringNamespace,
  });
  serving.addDependency(platform);
  // `cdktf synth --hcl` is the way off cdktf: its HCL must carry the same strings as the JSON (lib/hcl-output.ts).
  // Terraform evaluates `${` and `%{` in every string: text reaches it escaped, in both outputs (lib/terraform-text.ts).
  for (const stack of [platform, serving]) {
    escapeTemplateTextOf(stack);
    writeExactHclStrings(stack);
  }
  return { platform, serving };
}
