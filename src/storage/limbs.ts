/** Exact amounts as integer limbs, which the engines sum exactly at any scale. */
import { DECIMALS, formatNanos, type Nanos } from "./decimal.js";

/**
 * Amounts split into limbs that a cluster can sum exactly: four signed integers of six decimal digits,
 * of weights 10^0, 10^6, 10^12 and 10^18 nano-units, each stored in a field of its own.
 *
 * Why the engines' sums are then exact. OpenSearch and Elasticsearch sum in doubles (Kahan-compensated,
 * shard partials added the same way at the coordinating node). A double holds every integer up to
 * 2^53 exactly, and an addition whose operands and exact result are such integers is exact, so the
 * compensation stays 0. Every limb of a point is at most LIMB_BASE - 1 = 999,999 in magnitude and the
 * limbs of one point share its sign, so after any n points, in any order and with any mix of signs,
 * every partial sum is an integer of magnitude at most n × 999,999. That stays below 2^53 for up to
 * MAX_EXACT_POINTS = 9,007,208,261 points in one group (one bucket of a summary): a window of 10^9
 * points, nine times over. Four limbs hold every accepted amount, since |amount| < 10^15 units =
 * 10^24 nano-units = LIMB_BASE^4. joinLimbs refuses sums that are not exact integers of that range
 * rather than return a rounded total.
 */

export const LIMB_DIGITS = 6;
export const LIMB_BASE = 10 ** LIMB_DIGITS;
/** The exponent of each limb's weight in nano-units, low to high: a limb's field is `<amount>_e<exponent>`. */
export const LIMB_EXPONENTS = [0, 6, 12, 18] as const;
export type Limbs = [number, number, number, number];

/** Points per group below which every partial sum of a limb stays within 2^53 (see above). */
export const MAX_EXACT_POINTS = Math.floor(Number.MAX_SAFE_INTEGER / (LIMB_BASE - 1));

/**
 * The limbs of an amount in nano-units. Below 2^53 nano-units (9,007,199 units: nearly every amount)
 * they are taken with double arithmetic, every step exact: a remainder of integers is exact, and so is
 * the division of a multiple of 10^6 by 10^6. Larger amounts go through the decimal text.
 */
export function limbsOf(n: Nanos): Limbs {
  if (n > MAX_SAFE_NANOS || n < -MAX_SAFE_NANOS) return limbsOfText(formatNanos(n));
  let x = Number(n);
  const e0 = x % LIMB_BASE;
  x = (x - e0) / LIMB_BASE;
  const e6 = x % LIMB_BASE;
  const e12 = (x - e6) / LIMB_BASE; // below 9,008: 2^53 / 10^12
  // `+ 0` turns -0 into 0.
  return [e0 + 0, e6 + 0, e12 + 0, 0];
}

const MAX_SAFE_NANOS = BigInt(Number.MAX_SAFE_INTEGER);

/** The limbs of an amount given as its exact decimal text (formatNanos' output: no exponent, at most 9 decimals). */
export function limbsOfText(text: string): Limbs {
  const negative = text.charCodeAt(0) === 45; // "-"
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf(".");
  const units = dot < 0 ? body : body.slice(0, dot);
  const fraction = dot < 0 ? "" : body.slice(dot + 1);
  // The amount's digits in nano-units, read from the right six at a time: no BigInt on the push path.
  const digits = (units === "0" ? "" : units) + fraction.padEnd(DECIMALS, "0");
  const limbs: Limbs = [0, 0, 0, 0];
  for (let k = 0, end = digits.length; k < LIMB_EXPONENTS.length && end > 0; k++, end -= LIMB_DIGITS) {
    const limb = Number(digits.slice(Math.max(0, end - LIMB_DIGITS), end));
    // A zero limb is written 0, never -0: "-0" is a different JSON text of the same document.
    limbs[k] = negative && limb !== 0 ? -limb : limb;
  }
  if (digits.length > LIMB_DIGITS * LIMB_EXPONENTS.length) throw new RangeError(`${text} is beyond the four limbs of an amount`);
  return limbs;
}

/** Why a set of sums returned by a cluster cannot be joined exactly, or undefined when it can. */
export function inexactSum(sums: readonly number[]): string | undefined {
  for (const s of sums) {
    if (!Number.isSafeInteger(s)) return `a partial sum (${s}) is not an integer below 2^53, so the cluster may have rounded it`;
  }
  return undefined;
}

/** Below this magnitude of the 10^12 limb (with no 10^18 limb), the whole amount is a safe integer of nano-units. */
const SAFE_E12 = Math.floor(Number.MAX_SAFE_INTEGER / 1e12) - 1;

/** An amount from the sums of its limbs (low to high), each an exact integer as the cluster returned it. */
export function joinLimbs(sums: readonly number[]): Nanos {
  const [s0 = 0, s6 = 0, s12 = 0, s18 = 0] = sums;
  // Below 9,006 units every product and sum is an exact double: one BigInt instead of eight, and
  // reading a stored point is the export's inner loop.
  if (
    sums.length <= LIMB_EXPONENTS.length &&
    s18 === 0 &&
    Math.abs(s12) <= SAFE_E12 &&
    Math.abs(s6) < LIMB_BASE &&
    Math.abs(s0) < LIMB_BASE
  ) {
    return BigInt(s12 * 1e12 + s6 * 1e6 + s0);
  }
  let total = 0n;
  for (let k = sums.length - 1; k >= 0; k--) total = total * BigInt(LIMB_BASE) + BigInt(sums[k]!);
  return total;
}
