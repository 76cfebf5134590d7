import { App } from 'cdktf';
import { OmniglueConfig } from '../config/schema';
import { writeExactHclStrings } from '../lib/hcl-output';
import { STACK_NAMES } from '../lib/stack-names';
import { escapeTemplateTextOf } from '../lib/terraform-text';
import { GpuPlatformStack } from './gpu-platform-stack';
import { OmniglueServingStack } from './omniglue-serving-stack';

export { GpuPlatformStack } from './gpu-platform-stack';
export { OmniglueServingStack } from './omniglue-serving-stack';

export { STACK_NAMES } from '../lib/stack-names';

export interface OmniglueStacks {
  readonly platform: GpuPlatformStack;
  readonly serving: OmniglueServingStack;
}

export interface CreateStacksOptions {
  /** The environment (OMNIGLUE_ENV) the configuration was loaded for; it names both stacks' state. @default - none */
  readonly environment?: string;
}

/** Both stacks, with the serving stack deployed after the platform it runs on. */
export function createStacks(app: App, config: OmniglueConfig, options: CreateStacksOptions = {}): OmniglueStacks {
  const { environment } = options;
  const platform = new GpuPlatformStack(app, STACK_NAMES.platform, { config, environment });
  const serving = new OmniglueServingStack(app, STACK_NAMES.serving, {
    config,
    environment,
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
