/**
 * Exact fixed-point amounts with 9 decimal places, held as a bigint count of nano-units.
 *
 * Quantities and prices are stored both as a double (CloudKitty's `qty`/`price`, for Dashboards) and
 * as integer limbs (src/storage/limbs.ts), because sums of doubles carry noise (0.1 added 100,000 times
 * is not 10000) and a minimal cluster has no `scaled_float`.
 */

export const SCALE = 1_000_000_000n;
export const DECIMALS = 9;

/** Largest accepted magnitude: keeps whole units well inside a `long` and the double within 1e-9 of exact below 2^53 nanos. */
export const MAX_ABS = 1e15;

const DECIMAL_RE = /^([+-])?(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$|^([+-])?\.(\d+)(?:[eE]([+-]?\d+))?$/;

export type Nanos = bigint;

/** The canonical decimal string, as JSON Schema: at most 15 whole digits (below MAX_ABS) and 9 decimals. */
export const DECIMAL_STRING_PATTERN = "^-?[0-9]{1,15}(\\.[0-9]{1,9})?$";

/** A decimal split at the 9th decimal place: whole nano-units, and the digits beyond them. */
interface Split {
  readonly sign: bigint;
  readonly whole: bigint;
  readonly rest: string;
}

function split(input: string | number): Split | undefined {
  let text: string;
  if (typeof input === "number") {
    if (!Number.isFinite(input)) return undefined;
    // The shortest round-trip form, so 0.1 is read as 0.1 and not as the double's binary expansion.
    text = String(input);
  } else {
    text = input.trim();
  }
  const m = DECIMAL_RE.exec(text);
  if (!m) return undefined;
  const sign = (m[1] ?? m[5]) === "-" ? -1n : 1n;
  const intPart = m[2] ?? "0";
  const fracPart = m[3] ?? m[6] ?? "";
  const exp = Number(m[4] ?? m[7] ?? "0");
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 400) return undefined;
  // Work on the digit string with an implied decimal point, shifted by the exponent.
  const digits = intPart + fracPart;
  const pointPos = intPart.length + exp; // digits before the decimal point
  const scaledPos = pointPos + DECIMALS; // digits that make whole nano-units
  if (scaledPos <= 0) return { sign, whole: 0n, rest: "0".repeat(-scaledPos) + digits };
  if (scaledPos >= digits.length) return { sign, whole: BigInt(digits + "0".repeat(scaledPos - digits.length)), rest: "" };
  return { sign, whole: BigInt(digits.slice(0, scaledPos)), rest: digits.slice(scaledPos) };
}

const signed = (sign: bigint, whole: bigint): Nanos => (whole === 0n ? 0n : sign * whole);

/**
 * An amount given exactly: a decimal with at most 9 decimal places (what is stored). Anything finer is
 * refused rather than rounded: a billing store does not alter what it is given.
 */
export function parseExactDecimal(input: string | number): { ok: true; nanos: Nanos } | { ok: false; reason: string } {
  const s = split(input);
  if (!s) return { ok: false, reason: "must be a finite decimal number or decimal string" };
  if (/[1-9]/.test(s.rest))
    return {
      ok: false,
      reason: `has more than ${DECIMALS} decimal places (${String(input)}): round it before sending, since it cannot be stored exactly`,
    };
  return { ok: true, nanos: signed(s.sign, s.whole) };
}

/** Parses a decimal string or a finite number, rounding half to even beyond 9 decimals (reading doubles other tools stored). Undefined when not a decimal. */
export function parseDecimal(input: string | number): Nanos | undefined {
  const s = split(input);
  return s ? signed(s.sign, roundHalfEven(s.whole, s.rest)) : undefined;
}

function roundHalfEven(whole: bigint, rest: string): bigint {
  if (rest === "" || /^0*$/.test(rest)) return whole;
  const first = rest.charCodeAt(0) - 48;
  const tailNonZero = /[1-9]/.test(rest.slice(1));
  if (first > 5 || (first === 5 && tailNonZero)) return whole + 1n;
  if (first === 5 && !tailNonZero) return whole % 2n === 0n ? whole : whole + 1n;
  return whole;
}

/** Whole units whose nano-units (units × 10^9) a double holds exactly. */
const SAFE_UNITS = Math.floor(Number.MAX_SAFE_INTEGER / 1e9);

/**
 * Joins whole units and nano-units, as template versions before 5 stored them (`qty_units`, `qty_nanos`)
 * and as sum aggregations return their sums (doubles).
 */
export function joinSums(unitsSum: number, nanosSum: number): Nanos {
  const units = Math.round(unitsSum);
  const nanos = Math.round(nanosSum);
  // Where every step stays within a double's exact integers (a single point always does), one BigInt
  // instead of four: reading a stored point is the export's inner loop.
  if (Math.abs(units) <= SAFE_UNITS && Math.abs(nanos) <= Number.MAX_SAFE_INTEGER) {
    const total = units * 1e9 + nanos;
    if (Number.isSafeInteger(total)) return BigInt(total);
  }
  return BigInt(units) * SCALE + BigInt(nanos);
}

/** The exact decimal text, without trailing zeros ("10000", "0.1", "-2.5"). */
export function formatNanos(n: Nanos): string {
  if (n >= MIN_SAFE_NANOS && n <= MAX_SAFE_NANOS) return formatSafeNanos(Number(n));
  const negative = n < 0n;
  const abs = negative ? -n : n;
  const units = abs / SCALE;
  const frac = (abs % SCALE).toString().padStart(DECIMALS, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${units}${frac ? "." + frac : ""}`;
}

const MAX_SAFE_NANOS = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE_NANOS = -MAX_SAFE_NANOS;

/**
 * formatNanos for amounts a double holds exactly (below 9,007,199 units): integer arithmetic on
 * doubles, several times faster than on BigInt, and every export writes two amounts per point.
 */
function formatSafeNanos(x: number): string {
  const negative = x < 0;
  const abs = negative ? -x : x;
  let units = Math.floor(abs / 1e9);
  // The division may round up to the next integer; the subtraction is exact and corrects it.
  let frac = abs - units * 1e9;
  if (frac < 0) {
    units -= 1;
    frac += 1e9;
  }
  let text = `${negative ? "-" : ""}${units}`;
  if (frac === 0) return text;
  let digits = String(frac).padStart(DECIMALS, "0");
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 48) end--;
  digits = digits.slice(0, end);
  text += "." + digits;
  return text;
}

/** The nearest double, for JSON output and the `qty`/`price` fields. */
export function nanosToNumber(n: Nanos): number {
  return Number(formatNanos(n));
}
