/** The Triton ensemble the stack would deploy, read back from the conversion Job's ConfigMap. */

import { isObj, metadataOf, one, resourcesOf, str, TerraformJson } from './terraform-json';

export interface EnsembleStep {
  readonly modelName: string;
  /** Model input name → ensemble tensor it reads. */
  readonly inputMap: Record<string, string>;
  /** Model output name → ensemble tensor it writes. */
  readonly outputMap: Record<string, string>;
}

export interface EnsembleSummary {
  readonly name: string;
  /** The ConfigMap the contract was read from. */
  readonly source: string;
  readonly steps: EnsembleStep[];
}

/** The conversion Job ships the model contract in this ConfigMap (constructs/model-conversion-job.ts). */
export const CONTRACT_CONFIG_MAP = 'omniglue-conversion-model-configs';
export const CONTRACT_KEY = 'model_contract.json';

/**
 * The ensemble's steps as the conversion Job receives them: the model contract in its ConfigMap. Reading the
 * synthesized ConfigMap (not model_repository/) keeps the review about what would be deployed.
 */
export function summarizeEnsemble(doc: TerraformJson): EnsembleSummary | undefined {
  for (const [, configMap] of resourcesOf(doc, 'kubernetes_config_map_v1').concat(resourcesOf(doc, 'kubernetes_config_map'))) {
    const text = one(configMap.data)[CONTRACT_KEY];
    if (typeof text !== 'string') continue;
    let contract: unknown;
    try {
      contract = JSON.parse(text);
    } catch {
      continue; // Not ours to validate here: the conversion Job rejects a malformed contract.
    }
    if (!isObj(contract) || !Array.isArray(contract.steps)) continue;
    const strings = (map: unknown) => Object.fromEntries(Object.entries(one(map)).map(([key, value]) => [key, str(value) ?? '?']));
    return {
      name: str(contract.ensemble) ?? '?',
      source: `ConfigMap/${metadataOf(doc, configMap).name ?? CONTRACT_CONFIG_MAP}`,
      steps: contract.steps.filter(isObj).map((step) => ({
        modelName: str(step.modelName) ?? '?',
        inputMap: strings(step.inputMap),
        outputMap: strings(step.outputMap),
      })),
    };
  }
  return undefined;
}
