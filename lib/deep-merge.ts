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
