import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, loadConfig, parseConfig } from '../config/load';

function writeConfig(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-config-')), 'omniglue.config.json');
  fs.writeFileSync(file, text);
  return file;
}

function loadError(text: string, environment?: string): string {
  try {
    loadConfig({ file: writeConfig(text), environment });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('the configuration file', () => {
  test('a typo in any environment fails every synth, naming the environment and the setting', () => {
    const text = JSON.stringify({ environments: { staging: {}, production: { triton: { replicas: { mni: 2 } } } } });
    expect(loadError(text)).toMatch(/environments\.production: triton\.replicas: unknown setting\(s\) 'mni'/);
    expect(loadError(text, 'staging')).toMatch(/environments\.production: triton\.replicas: unknown setting/);
  });

  test('a problem of the base is reported once, not again under each environment that inherits it', () => {
    const message = loadError(JSON.stringify({ namespace: 'Bad_NS', environments: { staging: {}, production: { triton: { gpusPerReplica: -1 } } } }));
    expect(message.match(/namespace: must be a DNS-1123 label/g)).toHaveLength(1);
    expect(message).toMatch(/environments\.production: triton\.gpusPerReplica: must be between 0 and 16/);
    expect(message).not.toMatch(/environments\.staging/);
  });

  test('a rule broken only by an overlay names the environment', () => {
    const text = JSON.stringify({ environments: { tiny: { triton: { replicas: { min: 3, max: 2 } } } } });
    expect(loadError(text)).toMatch(/environments\.tiny: triton\.replicas\.min \(3\) must be less than or equal to triton\.replicas\.max \(2\)/);
  });

  test.each(['__proto__', 'toString', 'constructor', 'hasOwnProperty'])('OMNIGLUE_ENV=%s is refused, not treated as an environment', (name) => {
    expect(loadError(JSON.stringify({ environments: { production: {} } }), name)).toMatch(
      name === 'constructor' ? /environment 'constructor' \(OMNIGLUE_ENV\) is not defined; known environments: production/ : new RegExp(`OMNIGLUE_ENV '${name}' is not an environment name: use lower-case letters, digits and "-" \\(known: production\\)`),
    );
  });

  test('environment keys that are not names are refused, and "__proto__" in a section stays a key that is refused', () => {
    expect(loadError('{"environments": {"__proto__": {"namespace": "x"}}}')).toMatch(/environments: '__proto__' is not an environment name/);
    expect(loadError('{"triton": {"__proto__": {"gpusPerReplica": 0}}}')).toMatch(/triton: unknown setting\(s\) '__proto__'/);
    expect(loadError('{"environments": {"prod": {"triton": {"__proto__": {"gpusPerReplica": 0}}}}}')).toMatch(/environments\.prod: triton: unknown setting\(s\) '__proto__'/);
  });

  test('duplicate keys are an error naming the line, not a silent last-one-wins', () => {
    expect(loadError('{\n  "namespace": "a",\n  "namespace": "b"\n}')).toMatch(/duplicate key "namespace" at line 3: JSON parsers keep only the last value; keep one/);
  });

  test('text that Terraform would evaluate is accepted as written (it reaches Terraform escaped)', () => {
    expect(parseConfig({ conversion: { extraEnv: { NO_PROXY: '$HOME ${HOME}', HTTPS_PROXY: 'http://%{x}' } } }).conversion.extraEnv).toEqual({
      NO_PROXY: '$HOME ${HOME}',
      HTTPS_PROXY: 'http://%{x}',
    });
  });

  test('deeply nested input is reported, not a stack overflow', () => {
    const deep = '{"triton": '.repeat(5000) + '{}' + '}'.repeat(5000);
    expect(loadError(deep)).toMatch(/nested more than 32 levels deep|triton: unknown setting/);
  });

  test('a byte-order mark is accepted; a file that cannot be read is a configuration error', () => {
    expect(loadConfig({ file: writeConfig('\uFEFF{"namespace": "omniglue-bom"}') }).namespace).toBe('omniglue-bom');
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'omniglue-config-dir-'));
    expect(() => loadConfig({ file: directory })).toThrow(/cannot read the file: EISDIR/);
  });

  test('invalid JSON names the file and the position', () => {
    expect(loadError('{"namespace": }')).toMatch(/Invalid configuration \(.*omniglue\.config\.json\):\n  - not valid JSON: Unexpected token/);
  });
});
