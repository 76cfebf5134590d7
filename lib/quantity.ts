/**
 * Kubernetes resource quantities: the one parser and formatter, as the API server parses them and writes them back.
 *
 * The kubernetes provider (hashicorp/kubernetes v2.38.0) compares most quantity fields by value: their schema has
 * `DiffSuppressFunc: suppressEquivalentResourceQuantity` (kubernetes/diff_supress_funcs.go), e.g. container
 * `resources` (schema_container.go), emptyDir `size_limit` (schema_pod_spec.go), PVC `resources`
 * (schema_persistent_volume_claim.go). The HPA's metric targets `average_value` and `value` have none
 * (kubernetes/schema_horizontal_pod_autoscaler.go, metricTargetFields) and are read back as
 * `Quantity.String()` (structure_horizontal_pod_autoscaler_v2.go): a value that is not already in that form shows
 * a change on every plan. Those fields must be written as `canonicalQuantity()` returns them.
 *
 * Re-implemented from kubernetes/apimachinery v0.28.6 (the version the provider builds with, unchanged on master
 * for parsing and formatting), pkg/api/resource: `ParseQuantity` and `parseQuantityString` (quantity.go),
 * `Quantity.String` and `CanonicalizeBytes` (quantity.go), the suffix tables (suffix.go) and the canonical
 * mantissa/exponent of `int64Amount`/`infDecAmount` (amount.go). Exact decimal arithmetic on BigInt stands in
 * for int64 and inf.Dec; where the Go code takes a fast path that keeps the input string, so does this.
 */

type Format = 'DecimalExponent' | 'BinarySI' | 'DecimalSI';

/** A parsed quantity: `unscaled × 10^exponent`, the suffix family it was written in, and the kept input string. */
interface Quantity {
  readonly unscaled: bigint;
  readonly exponent: number;
  readonly format: Format;
  /** The input, reused by String() when ParseQuantity found it already canonical (quantity.go, fast path). */
  readonly kept?: string;
}

export class QuantityError extends Error {}

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const NANO = -9;
/** maxInt64Factors (math.go): the most decimal digits an int64 holds. */
const MAX_INT64_FACTORS = 18;
const SUFFIX_CHARS = 'eEinumkKMGTP';

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_SUFFIX_OF_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([suffix, exponent]) => [exponent, suffix]));
const BINARY_SUFFIX_OF_EXPONENT = new Map(Object.entries(BINARY_SUFFIXES).map(([suffix, exponent]) => [exponent, suffix]));

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const pow10 = (n: number) => 10n ** BigInt(n);
const abs = (n: bigint) => (n < 0n ? -n : n);

/** The canonical string of a quantity, as the API server stores it and the provider reads it back. */
export function canonicalQuantity(text: string): string {
  return formatQuantity(parseQuantity(text));
}

/**
 * The amount a quantity stands for, in its base unit (bytes for memory, cores for CPU), as the API server parses
 * it: for comparing sizes (a limit against a request), never for writing back. Throws QuantityError when `text`
 * is not a quantity.
 */
export function quantityValue(text: string): number {
  const { unscaled, exponent } = parseQuantity(text);
  // Through decimal text, so that 15 x 10^-1 is 1.5 exactly rather than 15 * 0.1.
  return Number(`${unscaled}e${exponent}`);
}

/** True when the API server would give `text` back unchanged. */
export function isCanonicalQuantity(text: string): boolean {
  try {
    return canonicalQuantity(text) === text;
  } catch {
    return false;
  }
}

interface Scanned {
  positive: boolean;
  /** The number as written, sign included (what inf.Dec parses on the slow path). */
  value: string;
  /** Integer digits without leading zeros ('0' if none). */
  num: string;
  denom: string;
  suffix: string;
}

/** parseQuantityString (quantity.go): splits sign, integer and fraction digits and suffix. */
function scan(str: string): Scanned {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (str[0] === '-') {
    positive = false;
    pos++;
  } else if (str[0] === '+') {
    pos++;
  }
  while (pos < end && str[pos] === '0') pos++;
  if (pos >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
  let i = pos;
  while (i < end && isDigit(str[i])) i++;
  if (i >= end) return { positive, value: str, num: str.slice(pos), denom: '', suffix: '' };
  const num = i > pos ? str.slice(pos, i) : '0';
  pos = i;
  let denom = '';
  if (str[pos] === '.') {
    pos++;
    i = pos;
    while (i < end && isDigit(str[i])) i++;
    denom = str.slice(pos, i);
    if (i >= end) return { positive, value: str, num, denom, suffix: '' };
    pos = i;
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  i = pos;
  while (i < end && SUFFIX_CHARS.includes(str[i])) i++;
  if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
  pos = i;
  if (str[pos] === '-' || str[pos] === '+') pos++;
  for (i = pos; i < end; i++) {
    if (!isDigit(str[i])) throw new QuantityError(`'${str}' is not a Kubernetes quantity (it must match ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$)`);
  }
  return { positive, value, num, denom, suffix: str.slice(suffixStart) };
}

/** quantitySuffixer.interpret (suffix.go). */
function interpretSuffix(suffix: string, str: string): { base: 2 | 10; exponent: number; format: Format } {
  if (suffix in DECIMAL_SUFFIXES) return { base: 10, exponent: DECIMAL_SUFFIXES[suffix], format: 'DecimalSI' };
  if (suffix in BINARY_SUFFIXES) return { base: 2, exponent: BINARY_SUFFIXES[suffix], format: 'BinarySI' };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E') && /^[+-]?\d+$/.test(suffix.slice(1))) {
    const parsed = BigInt(suffix.slice(1));
    // strconv.ParseInt(…, 64) then int32(parsed): out of int64 is an error, out of int32 wraps.
    if (parsed < MIN_INT64 || parsed > MAX_INT64) throw new QuantityError(`'${str}' is not a Kubernetes quantity: its exponent is out of range`);
    return { base: 10, exponent: Number(BigInt.asIntN(32, parsed)), format: 'DecimalExponent' };
  }
  throw new QuantityError(`'${str}' is not a Kubernetes quantity: unknown suffix '${suffix}' (allowed: n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or e<exponent>)`);
}

/** ParseQuantity (quantity.go). */
function parseQuantity(str: string): Quantity {
  if (str.length === 0) throw new QuantityError(`'' is not a Kubernetes quantity`);
  if (str === '0') return { unscaled: 0n, exponent: 0, format: 'DecimalSI', kept: str };
  const { positive, value, num, denom, suffix } = scan(str);
  const { base, exponent, format } = interpretSuffix(suffix, str);

  let precision: number;
  let scale = 0;
  let mantissa = 1n;
  if (format === 'BinarySI') {
    if (exponent >= 0 && denom.length === 0) {
      mantissa = 1n << BigInt(exponent);
      precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
    } else {
      precision = -1;
    }
  } else {
    scale = exponent;
    precision = MAX_INT64_FACTORS - (num.length + denom.length);
  }

  if (precision >= 0) {
    scale -= denom.length;
    if (scale >= NANO) {
      const shifted = num + denom;
      const digits = BigInt(shifted);
      if (digits > MAX_INT64) throw new QuantityError(`'${str}' is not a Kubernetes quantity: its number is too large`);
      const product = digits * mantissa;
      if (product <= MAX_INT64) {
        const unscaled = positive ? product : -product;
        const kept =
          format === 'BinarySI'
            ? exponent % 10 === 0 && (digits & 7n) !== 0n
            : scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
        return { unscaled, exponent: scale, format, ...(kept ? { kept: str } : {}) };
      }
    }
  }

  // Slow path: inf.Dec, then rounded up to a nanounit and capped (quantity.go, after "amount := new(inf.Dec)").
  const decimal = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(value);
  if (decimal === null || decimal[2].length + (decimal[3] ?? '').length === 0) {
    throw new QuantityError(`'${str}' is not a Kubernetes quantity: unable to parse its number`);
  }
  let unscaled = BigInt(`${decimal[2]}${decimal[3] ?? ''}` || '0') * (decimal[1] === '-' ? -1n : 1n);
  let decimalExponent = -(decimal[3] ?? '').length;
  if (base === 10) decimalExponent += exponent;
  else unscaled *= 1n << BigInt(exponent);

  const negative = unscaled < 0n;
  unscaled = abs(unscaled);
  if (unscaled !== 0n && decimalExponent < NANO) {
    const divisor = pow10(NANO - decimalExponent);
    unscaled = (unscaled + divisor - 1n) / divisor;
    decimalExponent = NANO;
  }
  let resultFormat = format;
  if (format === 'BinarySI' && compareToInteger(unscaled, decimalExponent, MAX_INT64) > 0) {
    unscaled = MAX_INT64;
    decimalExponent = 0;
  }
  if (format === 'BinarySI' && unscaled > 0n && compareToInteger(unscaled, decimalExponent, 1n) < 0) resultFormat = 'DecimalSI';
  return { unscaled: negative ? -unscaled : unscaled, exponent: decimalExponent, format: resultFormat };
}

/** Sign of `unscaled × 10^exponent − integer`. */
function compareToInteger(unscaled: bigint, exponent: number, integer: bigint): number {
  const [left, right] = exponent >= 0 ? [unscaled * pow10(exponent), integer] : [unscaled, integer * pow10(-exponent)];
  return left === right ? 0 : left > right ? 1 : -1;
}

/** Quantity.String → CanonicalizeBytes (quantity.go). */
function formatQuantity(q: Quantity): string {
  if (q.kept !== undefined) return q.kept;
  if (q.unscaled === 0n) return '0';
  let format = q.format;
  if (format === 'BinarySI') {
    const small = compareToInteger(q.unscaled, q.exponent, -1024n) > 0 && compareToInteger(q.unscaled, q.exponent, 1024n) < 0;
    const integral = q.exponent >= 0 || q.unscaled % pow10(-q.exponent) === 0n;
    if (small || !integral) format = 'DecimalSI';
  }
  if (format === 'BinarySI') {
    // AsCanonicalBase1024Bytes (amount.go): the integer value with factors of 1024 moved into the suffix.
    let amount = q.exponent >= 0 ? q.unscaled * pow10(q.exponent) : q.unscaled / pow10(-q.exponent);
    let times = 0;
    while (amount !== 0n && amount % 1024n === 0n) {
      amount /= 1024n;
      times++;
    }
    return `${amount}${BINARY_SUFFIX_OF_EXPONENT.get(times * 10) ?? ''}`;
  }
  // AsCanonicalBytes (amount.go): factors of 10 into the exponent, then the exponent down to a multiple of 3.
  let amount = q.unscaled;
  let exponent = q.exponent;
  while (amount % 10n === 0n) {
    amount /= 10n;
    exponent++;
  }
  const remainder = ((exponent % 3) + 3) % 3;
  amount *= pow10(remainder);
  exponent -= remainder;
  // An exponent without a suffix (beyond E) is emitted bare, as constructBytes' failed lookup leaves it (suffix.go).
  const suffix = format === 'DecimalExponent' ? (exponent === 0 ? '' : `e${exponent}`) : (DECIMAL_SUFFIX_OF_EXPONENT.get(exponent) ?? '');
  return `${amount}${suffix}`;
}

/**
 * Compares two quantities by value, as `Quantity.Cmp` does after `ParseQuantity` (quantity.go): -1, 0 or 1.
 * Throws QuantityError when either is not a quantity. The provider's `suppressEquivalentResourceQuantity`
 * (kubernetes/diff_supress_funcs.go) hides a change when this is 0.
 */
export function compareQuantities(a: string, b: string): -1 | 0 | 1 {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  const exponent = Math.min(x.exponent, y.exponent);
  const left = x.unscaled * pow10(x.exponent - exponent);
  const right = y.unscaled * pow10(y.exponent - exponent);
  return left === right ? 0 : left > right ? 1 : -1;
}
