/**
 * JSON numbers within a range, as a GBNF expression: what a schema's `minimum`, `maximum`,
 * `exclusiveMinimum` and `exclusiveMaximum` become, since node-llama-cpp's schema grammar ignores
 * them (docs/ENGINE-NOTES.md §3.4). Like llama.cpp's json-schema-to-grammar (`build_min_max_int`),
 * the range is spelled digit by digit, so a grammar stays a few lines long for any bounds; unlike
 * it, fractions are bounded too.
 *
 * The numbers are those node-llama-cpp's own rules allow, less the exponent: at most 16 digits
 * before the point and (numbers only) 16 after it. On that grid every bound is exact: a lower
 * bound rounds up to it, an upper bound down, and an exclusive bound moves by one step, so
 * `exclusiveMinimum: 0` on a number is `0.0000000000000001` and on an integer `1`.
 */

/** Digits an integer may have (node-llama-cpp's `[1-9] [0-9]{0,15}`), and a number before its point. */
export const INTEGER_DIGITS = 16;
/** Digits a bounded number may have after its point (node-llama-cpp's `"." [0-9]{1,16}`). */
export const FRACTION_DIGITS = 16;

/** One side of a range: the schema's value and whether the value itself is excluded. */
export interface Bound {
  value: number;
  exclusive: boolean;
}

export type NumberKind = "integer" | "number";

/**
 * `value` times 10^scale as an exact integer, rounded towards +Infinity ("ceil") or -Infinity
 * ("floor"), and whether no rounding was needed. Exact in the decimal a client wrote: a bound of
 * 0.1 is 0.1, not the binary double nearest to it.
 */
export function scaledBound(value: number, scale: number, round: "ceil" | "floor"): { value: bigint; exact: boolean } {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(String(value));
  if (!m) throw new RangeError(`not a finite number: ${value}`);
  const [, sign, whole, fraction = "", exponent = "0"] = m;
  const digits = BigInt(whole! + fraction);
  const shift = scale - fraction.length + Number(exponent);
  let magnitude: bigint;
  let exact = true;
  let roundAway = false;
  if (shift >= 0) magnitude = digits * 10n ** BigInt(shift);
  else {
    const divisor = 10n ** BigInt(-shift);
    magnitude = digits / divisor;
    exact = digits % divisor === 0n;
    // Truncation rounds towards zero: away from zero is up for positive values, down for negative.
    roundAway = !exact && (sign === "-" ? round === "floor" : round === "ceil");
  }
  if (roundAway) magnitude += 1n;
  return { value: sign === "-" ? -magnitude : magnitude, exact };
}

/**
 * The GBNF for numbers of `kind` between `lower` and `upper` (either may be absent), or null
 * when no number of that kind lies between them.
 */
export function rangeGbnf(kind: NumberKind, lower: Bound | undefined, upper: Bound | undefined): string | null {
  const scale = kind === "integer" ? 0 : FRACTION_DIGITS;
  const one = 10n ** BigInt(scale);
  const limit = 10n ** BigInt(INTEGER_DIGITS) * one - 1n;
  let lo = -limit;
  let hi = limit;
  if (lower) {
    const b = scaledBound(lower.value, scale, "ceil");
    const v = lower.exclusive && b.exact ? b.value + 1n : b.value;
    if (v > lo) lo = v;
  }
  if (upper) {
    const b = scaledBound(upper.value, scale, "floor");
    const v = upper.exclusive && b.exact ? b.value - 1n : b.value;
    if (v < hi) hi = v;
  }
  if (lo > hi) return null;
  const magnitude = kind === "integer" ? unsignedRange : (from: bigint, to: bigint) => decimalRange(from, to, one);
  const alternatives: string[] = [];
  // "-0" is never written: negative numbers start at one step below zero.
  if (lo < 0n) alternatives.push(`"-" ${group(magnitude(hi < 0n ? -hi : 1n, -lo))}`);
  if (hi >= 0n) alternatives.push(magnitude(lo > 0n ? lo : 0n, hi));
  return alternatives.length === 1 ? alternatives[0]! : group(alternatives.join(" | "));
}

function group(expression: string): string {
  return /^("[^"]*"|\[[^\]]*\])$/.test(expression) ? expression : `(${expression})`;
}

function alternativesOf(parts: string[]): string {
  return parts.length === 1 ? parts[0]! : `(${parts.join(" | ")})`;
}

/** Decimal digits written out, without leading zeros: `from` to `to`, both >= 0. */
export function unsignedRange(from: bigint, to: bigint): string {
  const parts: string[] = [];
  const fromLength = String(from).length;
  const toLength = String(to).length;
  // Lengths whose every number is in range are written together: [1-9] [0-9]{a,b}.
  let full: { first: number; last: number; zero: boolean } | null = null;
  const flush = () => {
    if (!full) return;
    const { first, last, zero } = full;
    const tail = anyDigits(first - 1, last - 1);
    parts.push(zero ? `("0" | [1-9]${anyDigits(0, last - 1)})` : `[1-9]${tail}`);
    full = null;
  };
  for (let length = fromLength; length <= toLength; length++) {
    const lowest = length === 1 ? 0n : 10n ** BigInt(length - 1);
    const highest = 10n ** BigInt(length) - 1n;
    const start = length === fromLength ? from : lowest;
    const end = length === toLength ? to : highest;
    // One digit counts as full from 1 as well (magnitudes of negative numbers start there).
    if ((start === lowest || (length === 1 && start === 1n)) && end === highest) {
      if (full) full.last = length;
      else full = { first: length, last: length, zero: start === 0n };
      continue;
    }
    flush();
    parts.push(digitsBetween(String(start), String(end)));
  }
  flush();
  return alternativesOf(parts);
}

/** Digit strings of one length, `from` to `to` (`from` <= `to`, same length). */
function digitsBetween(from: string, to: string): string {
  let common = 0;
  while (common < from.length && from[common] === to[common]) common++;
  const prefix = common > 0 ? `"${from.slice(0, common)}"` : "";
  if (common === from.length) return prefix;
  const rest = from.length - common - 1;
  const a = Number(from[common]);
  const b = Number(to[common]);
  const fromTail = from.slice(common + 1);
  const toTail = to.slice(common + 1);
  const lowest = fromTail === "0".repeat(rest);
  const highest = toTail === "9".repeat(rest);
  const parts: string[] = [];
  if (!lowest) parts.push(`"${a}" ${digitsBetween(fromTail, "9".repeat(rest))}`);
  const middleFrom = lowest ? a : a + 1;
  const middleTo = highest ? b : b - 1;
  if (middleFrom <= middleTo) parts.push(`${digitClass(middleFrom, middleTo)}${anyDigits(rest, rest)}`);
  if (!highest) parts.push(`"${b}" ${digitsBetween("0".repeat(rest), toTail)}`);
  const choice = alternativesOf(parts);
  return prefix ? `${prefix} ${choice}` : choice;
}

function digitClass(from: number, to: number): string {
  return from === to ? `[${from}]` : `[${from}-${to}]`;
}

/** ` [0-9]{min,max}`, or nothing when max is 0. */
function anyDigits(min: number, max: number): string {
  if (max === 0) return "";
  if (min === max) return min === 1 ? " [0-9]" : ` [0-9]{${min}}`;
  return ` [0-9]{${min},${max}}`;
}

/**
 * Non-negative decimals from `from` to `to`, both scaled by `one` (10^FRACTION_DIGITS): an
 * integer part, then an optional fraction of 1 to FRACTION_DIGITS digits.
 */
function decimalRange(from: bigint, to: bigint, one: bigint): string {
  const fractionOf = (v: bigint) => String(v % one).padStart(FRACTION_DIGITS, "0");
  const zeros = "0".repeat(FRACTION_DIGITS);
  const nines = "9".repeat(FRACTION_DIGITS);
  const wholeFrom = from / one;
  const wholeTo = to / one;
  const fractionFrom = fractionOf(from);
  const fractionTo = fractionOf(to);
  if (wholeFrom === wholeTo) return `"${wholeFrom}" ${fractionBetween(fractionFrom, fractionTo)}`;
  const parts: string[] = [];
  let middleFrom = wholeFrom;
  let middleTo = wholeTo;
  if (fractionFrom !== zeros) {
    parts.push(`"${wholeFrom}" ${fractionBetween(fractionFrom, nines)}`);
    middleFrom++;
  }
  if (fractionTo !== nines) middleTo--;
  if (middleFrom <= middleTo)
    parts.push(`${group(unsignedRange(middleFrom, middleTo))} ${fractionBetween(zeros, nines)}`);
  if (fractionTo !== nines) parts.push(`"${wholeTo}" ${fractionBetween(zeros, fractionTo)}`);
  return alternativesOf(parts);
}

/**
 * An optional fraction (`"." digits`) whose digits, padded with zeros to FRACTION_DIGITS, lie
 * between `from` and `to` (both FRACTION_DIGITS long); no fraction at all stands for zero.
 */
function fractionBetween(from: string, to: string): string {
  const digits = digitsFrom(from, to, 0, true, true)!;
  return /^0*$/.test(from) ? `("." ${digits})?` : `"." ${digits}`;
}

/**
 * One or more fraction digits from position `at` on, keeping the fraction within `from`..`to`
 * where the digits so far equal theirs (`low`, `high`); null when no digit fits in.
 */
function digitsFrom(from: string, to: string, at: number, low: boolean, high: boolean): string | null {
  const left = FRACTION_DIGITS - at;
  if (left === 0) return null;
  // A bound whose remaining digits are all 0 (from) or all 9 (to) no longer restricts anything.
  const tightLow = low && !/^0*$/.test(from.slice(at));
  const tightHigh = high && !/^9*$/.test(to.slice(at));
  const many = left === 1 ? "" : `{1,${left}}`;
  if (!tightLow && !tightHigh) return `[0-9]${many}`;
  // Only zeros keep the fraction at or below `to` (and `from` is then all zeros here too).
  if (tightHigh && /^0*$/.test(to.slice(at))) return `[0]${many}`;
  const a = tightLow ? Number(from[at]) : 0;
  const b = tightHigh ? Number(to[at]) : 9;
  const then = (digit: number, lowNext: boolean, highNext: boolean) => {
    const rest = digitsFrom(from, to, at + 1, lowNext, highNext);
    if (rest === null) return `"${digit}"`;
    // Stopping after this digit pads the fraction with zeros: fine unless `from` needs more.
    const mayStop = !lowNext || /^0*$/.test(from.slice(at + 1));
    if (!mayStop) return `"${digit}" ${rest}`;
    return rest.startsWith("[0-9]{1,") ? `"${digit}" ${rest.replace("{1,", "{0,")}` : `"${digit}" (${rest})?`;
  };
  const parts: string[] = [];
  if (tightLow) parts.push(then(a, true, tightHigh && a === b));
  const middleFrom = tightLow ? a + 1 : a;
  const middleTo = tightHigh ? b - 1 : b;
  if (middleFrom <= middleTo) parts.push(`${digitClass(middleFrom, middleTo)}${anyDigits(0, left - 1)}`);
  if (tightHigh && !(tightLow && a === b)) parts.push(then(b, false, true));
  return alternativesOf(parts);
}
