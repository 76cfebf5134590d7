/** Stack names are Terraform state names: renaming one orphans its state. */
export const STACK_NAMES = { platform: 'gpu-platform', serving: 'omniglue-serving' } as const;
