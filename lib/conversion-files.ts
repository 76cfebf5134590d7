import * as fs from 'fs';
import * as path from 'path';
import { buildModelContract, LoadedModelRepository } from './triton-model-config';
import { REPOSITORY_ROOT } from './paths';

export const SCRIPTS_DIR = path.join(REPOSITORY_ROOT, 'scripts');
export const SAMPLE_IMAGES = [path.join(REPOSITORY_ROOT, 'assets', 'demo1.jpg'), path.join(REPOSITORY_ROOT, 'assets', 'demo2.jpg')] as const;

/** One file the conversion Job needs, with the path it gets inside the pod. */
export interface ShippedFile {
  /** ConfigMap key: the mount path with '/' replaced, since keys may not contain '/'. */
  readonly key: string;
  /** Path relative to the ConfigMap's mount point. */
  readonly path: string;
  readonly content: Buffer;
}

function shipped(relativePath: string, content: Buffer | string): ShippedFile {
  return { key: relativePath.replace(/\//g, '__'), path: relativePath, content: Buffer.from(content) };
}

/** The conversion program: its entry point, its package and its pinned requirements. */
export function conversionScriptFiles(scriptsDir = SCRIPTS_DIR): ShippedFile[] {
  const packageDir = path.join(scriptsDir, 'omniglue_conversion');
  const modules = fs
    .readdirSync(packageDir)
    .filter((name) => name.endsWith('.py'))
    .sort()
    .map((name) => shipped(`omniglue_conversion/${name}`, fs.readFileSync(path.join(packageDir, name))));
  return [
    shipped('convert_models_to_onnx.py', fs.readFileSync(path.join(scriptsDir, 'convert_models_to_onnx.py'))),
    shipped('requirements-conversion.txt', fs.readFileSync(path.join(scriptsDir, 'requirements-conversion.txt'))),
    ...modules,
  ];
}

/** Every model's config.pbtxt, laid out as a model repository, plus the JSON contract derived from them. */
export function modelConfigFiles(repository: LoadedModelRepository): ShippedFile[] {
  return [
    ...repository.models.map((model) => shipped(`${model.name}/config.pbtxt`, model.configText)),
    shipped('model_contract.json', `${JSON.stringify(buildModelContract(repository), null, 2)}\n`),
  ];
}

/** The demo pair the Job runs the whole pipeline on before it publishes. */
export function sampleImageFiles(): ShippedFile[] {
  return SAMPLE_IMAGES.map((file) => shipped(path.basename(file), fs.readFileSync(file)));
}
