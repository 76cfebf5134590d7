/** JSON-like values, as configuration files and Helm values hold them. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isPlainObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Merges `overlay` over `base` the way Helm merges values files and this project merges environment overlays:
 * maps key by key, everything else (scalars, lists) replaced.
 */
export function deepMerge(base: Json, overlay: Json): Json {
  if (!isPlainObject(base) || !isPlainObject(overlay)) return overlay;
  const merged: Record<string, Json> = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    // defineProperty, not assignment: a "__proto__" key from JSON must stay a key (that validation then refuses),
    // never replace the merged object's prototype.
    const mergedValue = Object.hasOwn(base, key) ? deepMerge(base[key], value) : value;
    Object.defineProperty(merged, key, { value: mergedValue, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

/**
 * Where a map holds "__proto__" as an own key (JSON.parse makes one): the paths of those maps. Parsers that build
 * their output by assignment drop such a key without a word (zod's records do), so it must be refused first.
 */
export function prototypeKeyParents(value: unknown, at: string[] = []): string[][] {
  if (Array.isArray(value)) return value.flatMap((item, index) => prototypeKeyParents(item, [...at, String(index)]));
  if (!isPlainObject(value)) return [];
  const own = Object.hasOwn(value, '__proto__') ? [at] : [];
  return [...own, ...Object.entries(value).filter(([key]) => key !== '__proto__').flatMap(([key, item]) => prototypeKeyParents(item, [...at, key]))];
}

/** Why a "__proto__" key is refused rather than passed on. */
export const PROTOTYPE_KEY_PROBLEM =
  'the key "__proto__" is refused: a JavaScript object cannot hold it as an ordinary key, so it would silently disappear; rename it';
