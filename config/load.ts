import * as fs from 'fs';
import * as path from 'path';
import { parseDocument as parseYamlDocument } from 'yaml';
import { z } from 'zod';
import { crossCheck } from './cross-check';
import { configSchema, OmniglueConfig } from './schema';
import { deepMerge, isPlainObject, Json, PROTOTYPE_KEY_PROBLEM, prototypeKeyParents } from '../lib/deep-merge';
import { isolationProblems, NamedConfig } from './environment-isolation';
import { REPOSITORY_ROOT } from '../lib/paths';

export const DEFAULT_CONFIG_FILE = path.join(REPOSITORY_ROOT, 'omniglue.config.json');

/** A configuration problem, reported before anything is synthesized. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid configuration (${source}):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function describeReceived(input: unknown): string {
  if (input === undefined) return '';
  let text: string;
  try {
    text = JSON.stringify(input) ?? String(input);
  } catch {
    return ' (received a value too deeply nested to show)';
  }
  return ` (received ${text.length > 80 ? `${text.slice(0, 77)}...` : text})`;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const setting = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `${setting}: unknown setting(s) ${issue.keys.map((key) => `'${key}'`).join(', ')}; check the spelling against the configuration reference in README.md`;
  }
  if (issue.code === 'invalid_key') {
    // A record key failed its own check; its message is the one that says what is allowed.
    return `${setting}: ${issue.issues[0]?.message ?? issue.message}${describeReceived(issue.input)}`;
  }
  if (issue.code === 'invalid_type') {
    const expected = issue.expected === 'int' ? 'a whole number' : `of type ${issue.expected}`;
    return `${setting}: must be ${expected}${describeReceived(issue.input)}`;
  }
  return `${setting}: ${issue.message}${describeReceived(issue.input)}`;
}

/** Validates raw configuration (already merged for the environment) and fills in the defaults. */
export function parseConfig(raw: unknown, source = 'inline configuration'): OmniglueConfig {
  const depthProblems = nestingProblems(raw as Json);
  if (depthProblems.length > 0) throw new ConfigError(source, depthProblems);
  const result = configSchema.safeParse(raw, { reportInput: true });
  const issues = result.success ? [] : result.error.issues;
  // A section's "__proto__" is an unknown setting zod reports; a map's it would drop without a word.
  const reported = new Set(issues.flatMap((issue) => (issue.code === 'unrecognized_keys' && issue.keys.includes('__proto__') ? [issue.path.join('.')] : [])));
  const prototypeKeys = prototypeKeyParents(raw)
    .filter((at) => !reported.has(at.join('.')))
    .map((at) => `${[...at, '__proto__'].join('.')}: ${PROTOTYPE_KEY_PROBLEM}`);
  if (!result.success || prototypeKeys.length > 0) throw new ConfigError(source, [...issues.map(formatIssue), ...prototypeKeys]);
  const problems = crossCheck(result.data);
  if (problems.length > 0) throw new ConfigError(source, problems);
  return result.data;
}

export interface LoadConfigOptions {
  /** Configuration file. @default omniglue.config.json at the repository root, or $OMNIGLUE_CONFIG */
  readonly file?: string;
  /** Environment overlay from the file's `environments` map. @default $OMNIGLUE_ENV, or none */
  readonly environment?: string;
}

/** Environment names: what OMNIGLUE_ENV may hold and the keys of the file's `environments` map. */
const ENVIRONMENT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Refuses documents nested deeper than any setting goes. Text is never refused for what it holds: `${` and `%{`
 * reach Terraform escaped (lib/terraform-text.ts), so every value arrives as written.
 */
function nestingProblems(value: Json, at: string[] = [], depth = 0): string[] {
  if (depth > 32) return [`${at.join('.')}: nested more than 32 levels deep`];
  const entries: [string, Json][] = Array.isArray(value) ? value.map((item, index) => [String(index), item]) : isPlainObject(value) ? Object.entries(value) : [];
  return entries.flatMap(([key, item]) => nestingProblems(item, [...at, key], depth + 1));
}

/** Parses the file's JSON, refusing duplicate keys (JSON.parse silently keeps the last). */
function parseJsonDocument(text: string, file: string): Json {
  let document: Json;
  try {
    document = JSON.parse(text) as Json;
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
  // JSON is YAML 1.2, and the yaml parser reports duplicate keys with their line, which JSON.parse cannot.
  const duplicates = parseYamlDocument(text, { uniqueKeys: true }).errors.filter((error) => error.code === 'DUPLICATE_KEY');
  if (duplicates.length > 0) {
    const lines = text.split('\n');
    throw new ConfigError(
      file,
      duplicates.map((error) => {
        const line = error.linePos?.[0].line;
        const key = line === undefined ? undefined : /^\s*"((?:[^"\\]|\\.)*)"/.exec(lines[line - 1].slice((error.linePos?.[0].col ?? 1) - 1))?.[1];
        return `duplicate key${key === undefined ? '' : ` "${key}"`} at line ${line ?? '?'}: JSON parsers keep only the last value; keep one`;
      }),
    );
  }
  return document;
}

/** The base with one environment's overlay; the overlay's `state` replaces the base's whole (another backend). */
function applyOverlay(base: Record<string, Json>, overlay: Json): Json {
  const merged = deepMerge(base, overlay);
  if (isPlainObject(overlay) && isPlainObject(merged) && Object.hasOwn(overlay, 'state')) merged.state = overlay.state;
  return merged;
}

/** Validates the base and every environment of a configuration document; returns the requested one. */
export function parseConfigDocument(document: Json, file: string, environment?: string): OmniglueConfig {
  if (!isPlainObject(document)) throw new ConfigError(file, ['the file must hold a JSON object']);
  const depthProblems = nestingProblems(document);
  if (depthProblems.length > 0) throw new ConfigError(file, depthProblems);
  const { environments = {}, $schema: _schema, ...base } = document;
  if (!isPlainObject(environments)) throw new ConfigError(file, ['environments: must be an object of environment name to overlay']);
  const names = Object.keys(environments);
  const badNames = names.filter((name) => !ENVIRONMENT_NAME.test(name));
  if (badNames.length > 0) {
    throw new ConfigError(
      file,
      badNames.map((name) => `environments: '${name}' is not an environment name: use lower-case letters, digits and "-" (at most 63)`),
    );
  }
  if (environment !== undefined && !ENVIRONMENT_NAME.test(environment)) {
    throw new ConfigError(file, [`OMNIGLUE_ENV '${environment}' is not an environment name: use lower-case letters, digits and "-" (known: ${names.join(', ') || 'none'})`]);
  }
  if (environment !== undefined && !Object.hasOwn(environments, environment)) {
    throw new ConfigError(file, [`environment '${environment}' (OMNIGLUE_ENV) is not defined; known environments: ${names.length > 0 ? names.join(', ') : 'none'}`]);
  }
  // Every environment is checked at every synth: a typo in one must not wait until someone deploys it.
  const problems: string[] = [];
  const baseProblems = new Set<string>();
  let selected: OmniglueConfig | undefined;
  const parsed: NamedConfig[] = [];
  for (const name of [undefined, ...names]) {
    try {
      const config = parseConfig(name === undefined ? base : applyOverlay(base, environments[name]), file);
      parsed.push({ name, config });
      if (name === environment) selected = config;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (name === undefined) error.problems.forEach((problem) => baseProblems.add(problem));
      // A problem of the base shows once, not again under every environment that inherits it.
      const own = name === undefined ? error.problems : error.problems.filter((problem) => !baseProblems.has(problem));
      problems.push(...own.map((problem) => (name === undefined ? problem : `environments.${name}: ${problem}`)));
    }
  }
  // Environments are checked against each other only once each is valid on its own.
  if (problems.length === 0) problems.push(...isolationProblems(parsed));
  if (problems.length > 0 || selected === undefined) {
    throw new ConfigError(environment === undefined ? file : `${file}, environment '${environment}'`, problems);
  }
  return selected;
}

/** Reads the configuration file, validates it with every environment overlay, and returns the selected one. */
export function loadConfig(options: LoadConfigOptions = {}): OmniglueConfig {
  const file = options.file ?? process.env.OMNIGLUE_CONFIG ?? DEFAULT_CONFIG_FILE;
  const environment = options.environment ?? (process.env.OMNIGLUE_ENV || undefined);
  // Messages name the file as the user would type it: relative to where they run synth, when it is below.
  const relative = path.relative(process.cwd(), file);
  const shown = relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
  let document: Json = {};
  if (fs.existsSync(file)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(shown, [`cannot read the file: ${(error as Error).message}`]);
    }
    // Editors on Windows may start the file with a byte-order mark, which JSON.parse refuses.
    document = parseJsonDocument(text.replace(/^\uFEFF/, ''), shown);
  } else if (options.file !== undefined || process.env.OMNIGLUE_CONFIG !== undefined) {
    throw new ConfigError(shown, ['file not found']);
  }
  return parseConfigDocument(document, shown, environment);
}
