import * as fs from 'fs';
import * as path from 'path';
import { conversionScriptFiles } from '../lib/conversion-files';
import { REPOSITORY_ROOT } from '../lib/paths';

describe('what the conversion Job ships', () => {
  test('is exactly its entry point, its pinned requirements and its package: no development tool is mounted or hashed', () => {
    const shipped = conversionScriptFiles().map((file) => file.path).sort();
    const packageModules = fs.readdirSync(path.join(REPOSITORY_ROOT, 'scripts', 'omniglue_conversion')).filter((name) => name.endsWith('.py'));
    expect(shipped).toEqual(['convert_models_to_onnx.py', 'requirements-conversion.txt', ...packageModules.map((name) => `omniglue_conversion/${name}`)].sort());
    const tools = fs.readdirSync(path.join(REPOSITORY_ROOT, 'tools'));
    expect(shipped.filter((file) => tools.includes(path.basename(file)))).toEqual([]);
  });
});
