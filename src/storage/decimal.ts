/**
 * Exact fixed-point amounts with 9 decimal places, held as a bigint count of nano-units.
 *
 * Quantities and prices are stored both as a double (CloudKitty's `qty`/`price`, for Dashboards) and
 * as two integers (whole units and nano-units), because sums of doubles carry noise (0.1 added 100,000
 * times is not 10000) and a minimal cluster has no `scaled_float`. Summing the integer parts is exact
 * as long as each partial sum stays below 2^53.
 */

export const SCALE = 1_000_000_000n;
export const DECIMALS = 9;

/** Largest accepted magnitude: keeps whole units well inside a `long` and the double within 1e-9 of exact below 2^53 nanos. */
export const MAX_ABS = 1e15;

const DECIMAL_RE = /^([+-])?(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$|^([+-])?\.(\d+)(?:[eE]([+-]?\d+))?$/;

export type Nanos = bigint;

/** Parses a decimal string or a finite number; rounds half to even beyond 9 decimals. Returns undefined when not a decimal. */
export function parseDecimal(input: string | number): Nanos | undefined {
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
  let whole: bigint;
  let rest: string;
  if (scaledPos <= 0) {
    whole = 0n;
    rest = "0".repeat(-scaledPos) + digits;
  } else if (scaledPos >= digits.length) {
    whole = BigInt(digits + "0".repeat(scaledPos - digits.length));
    rest = "";
  } else {
    whole = BigInt(digits.slice(0, scaledPos));
    rest = digits.slice(scaledPos);
  }
  whole = roundHalfEven(whole, rest);
  return whole === 0n ? 0n : sign * whole;
}

function roundHalfEven(whole: bigint, rest: string): bigint {
  if (rest === "" || /^0*$/.test(rest)) return whole;
  const first = rest.charCodeAt(0) - 48;
  const tailNonZero = /[1-9]/.test(rest.slice(1));
  if (first > 5 || (first === 5 && tailNonZero)) return whole + 1n;
  if (first === 5 && !tailNonZero) return whole % 2n === 0n ? whole : whole + 1n;
  return whole;
}

/** Whole units and nano-units of the same sign, from the exact decimal text (formatNanos' output): the two integers that are stored. */
export function splitDecimalText(text: string): { units: number; nanos: number } {
  const negative = text.startsWith("-");
  const dot = text.indexOf(".");
  const whole = Number(dot < 0 ? text : text.slice(0, dot));
  const frac = dot < 0 ? 0 : Number(text.slice(dot + 1).padEnd(DECIMALS, "0"));
  return { units: whole === 0 ? 0 : whole, nanos: negative ? -frac : frac };
}

/** Joins sums of whole units and of nano-units, as returned (as doubles) by a sum aggregation. */
export function joinSums(unitsSum: number, nanosSum: number): Nanos {
  return BigInt(Math.round(unitsSum)) * SCALE + BigInt(Math.round(nanosSum));
}

/** The exact decimal text, without trailing zeros ("10000", "0.1", "-2.5"). */
export function formatNanos(n: Nanos): string {
  const negative = n < 0n;
  const abs = negative ? -n : n;
  const units = abs / SCALE;
  const frac = (abs % SCALE).toString().padStart(DECIMALS, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${units}${frac ? "." + frac : ""}`;
}

/** The nearest double, for JSON output and the `qty`/`price` fields. */
export function nanosToNumber(n: Nanos): number {
  return Number(formatNanos(n));
}
