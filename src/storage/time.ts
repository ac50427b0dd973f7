/**
 * Timestamps as CloudKitty sends them: ISO 8601 (with or without zone, UTC assumed), CloudKitty's
 * compact form `20190723T122810Z`, or epoch seconds (a number or a string of digits, as in the seed).
 */

/** Accepted range of instants: anything outside is a client mistake, not data. */
export const MIN_TIME_MS = Date.UTC(1970, 0, 1);
export const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const COMPACT_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const EPOCH_RE = /^(\d{1,12})(?:\.(\d+))?$/;

/*
 * The same forms as JSON Schema patterns, for /openapi.json: a string matches one of them exactly when
 * parseTimestamp accepts it, but for one rule a pattern cannot state: an instant written with a UTC
 * offset must still fall between 1970 and 9999 once the offset is applied (1970-01-01T00:30:00+01:00
 * is in 1969). test/unit/timestamp-patterns.test.ts checks values generated from each pattern, and
 * values just outside them, against parseTimestamp.
 */
const YEAR = "(19[7-9][0-9]|[2-9][0-9]{3})";
/** Years of that range that have a February 29 (divisible by 4, centuries only by 400). */
const LEAP_YEAR = "(19(7[26]|8[048]|9[26])|[2-9][0-9](0[48]|[2468][048]|[13579][26])|([2468][048]|[3579][26])00)";
/** A date that exists, with `sep` between its parts: `-` in ISO 8601's extended form, nothing in its compact form. */
const date = (sep: string) =>
  `(${YEAR}${sep}(((0[1-9]|1[0-2])${sep}(0[1-9]|1[0-9]|2[0-8]))|((0[13-9]|1[0-2])${sep}(29|30))|((0[13578]|1[02])${sep}31))` +
  `|${LEAP_YEAR}${sep}02${sep}29)`;
const HOUR = "([01][0-9]|2[0-3])";
const MINUTE = "[0-5][0-9]";
/** Fractions of a second: milliseconds at most, then only zeros, nine digits in all (what is stored is milliseconds). */
const FRACTION = "(\\.[0-9]{1,3}0{0,6})?";
const OFFSET = `(Z|[+-]${HOUR}:?${MINUTE})?`;
/**
 * Leading and trailing white space is ignored, as parseTimestamp trims it: the set trim() removes, spelt
 * out because `\s` means another set in other regex dialects (Python's adds \x1c-\x1f and \x85).
 */
const WHITE_SPACE = "[\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]*";
const trimmed = (form: string) => `^${WHITE_SPACE}${form}${WHITE_SPACE}$`;

/** Decimal strings of `digits` digits (leading zeros allowed) whose value is at most `max`. */
function atMost(max: string): string {
  const alternatives = [max];
  for (let i = 0; i < max.length; i++) {
    const d = Number(max[i]);
    if (d === 0) continue;
    const rest = max.length - i - 1;
    alternatives.push(`${max.slice(0, i)}[0-${d - 1}]${rest > 0 ? `[0-9]{${rest}}` : ""}`);
  }
  return `(${alternatives.join("|")})`;
}
const MAX_EPOCH_SECONDS = Math.floor(MAX_TIME_MS / 1000);

/** ISO 8601's extended form: a date, then optionally a time (seconds and fraction optional) and a UTC offset. */
export const TIMESTAMP_STRING_PATTERN = trimmed(`${date("-")}([T ]${HOUR}:${MINUTE}(:${MINUTE}${FRACTION})?)?${OFFSET}`);
/** CloudKitty's compact form, YYYYMMDDTHHMMSSZ. */
export const COMPACT_TIMESTAMP_PATTERN = trimmed(`${date("")}T${HOUR}${MINUTE}${MINUTE}Z`);
/** Epoch seconds as a string of up to 12 digits, optionally with a fraction of whole milliseconds. */
export const EPOCH_SECONDS_PATTERN = trimmed(`([0-9]{1,11}|${atMost(String(MAX_EPOCH_SECONDS))})(\\.[0-9]{1,3}0*)?`);
/** What the OpenAPI document says of a timestamp, wherever one is taken. */
export const TIMESTAMP_DESCRIPTION =
  "ISO 8601 (UTC when no offset), CloudKitty's YYYYMMDDTHHMMSSZ, or epoch seconds; between 1970 and 9999, once a UTC offset is applied; " +
  "fractions of a second to the millisecond";
/** Every string form: a timestamp string is accepted when it matches one of these (and, with an offset, falls in range). */
export const TIMESTAMP_PATTERNS = [TIMESTAMP_STRING_PATTERN, COMPACT_TIMESTAMP_PATTERN, EPOCH_SECONDS_PATTERN] as const;
/**
 * Epoch seconds as a JSON number, published as whole seconds: the server also reads a fraction of whole
 * milliseconds (1700000000.25), which JSON Schema cannot state for binary floats (`multipleOf: 0.001` is
 * checked in floating point, where 1234.567 is not a multiple of 0.001).
 */
export const EPOCH_SECONDS_NUMBER = { minimum: 0, maximum: MAX_EPOCH_SECONDS } as const;

export type ParsedTime = { ok: true; ms: number } | { ok: false; reason: string };

function inRange(ms: number): ParsedTime {
  if (!Number.isFinite(ms)) return { ok: false, reason: "is not a valid date" };
  if (ms < MIN_TIME_MS || ms > MAX_TIME_MS) return { ok: false, reason: "must be between 1970-01-01 and 9999-12-31" };
  return { ok: true, ms };
}

/** Milliseconds of a fraction of a second's digits; undefined when digits finer than a millisecond are not zero. */
function millisOf(frac: string): number | undefined {
  if (/[1-9]/.test(frac.slice(3))) return undefined;
  return Number(frac.slice(0, 3).padEnd(3, "0"));
}

const SUB_MILLISECOND =
  "has a fraction of a second finer than a millisecond, which cannot be stored exactly: round it to milliseconds before sending";

function fromParts(y: string, mo: string, d: string, h = "0", mi = "0", s = "0", frac = ""): number | undefined {
  const [Y, M, D, H, Mi, S] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (M < 1 || M > 12 || D < 1 || D > 31 || H > 23 || Mi > 59 || S > 59) return undefined;
  // Not Date.UTC, which reads years 0-99 as 1900-1999 (0077-05-09 would become 1977).
  const at = new Date(0);
  at.setUTCFullYear(Y, M - 1, D);
  at.setUTCHours(H, Mi, S, millisOf(frac) ?? 0);
  // Dates roll over (2019-02-31 into March); a date that does not exist is an error, not a neighbour.
  if (at.getUTCDate() !== D) return undefined;
  return at.getTime();
}

/** Epoch seconds from their decimal text, to the millisecond exactly (seconds × 1000 in doubles is not). */
function fromEpochSeconds(seconds: string, frac = ""): ParsedTime {
  const ms = millisOf(frac);
  if (ms === undefined) return { ok: false, reason: SUB_MILLISECOND };
  return inRange(Number(seconds) * 1000 + ms);
}

export function parseTimestamp(input: string | number): ParsedTime {
  if (typeof input === "number") {
    if (!Number.isFinite(input)) return { ok: false, reason: "is not a finite number" };
    // The number's shortest form is its value as sent (the body's exact literal is checked by strict-json).
    const e = EPOCH_RE.exec(String(input));
    if (!e) return input < 0 || input >= 1e12 ? inRange(input * 1000) : { ok: false, reason: SUB_MILLISECOND };
    return fromEpochSeconds(e[1]!, e[2]);
  }
  const text = input.trim();
  const epoch = EPOCH_RE.exec(text);
  if (epoch) return fromEpochSeconds(epoch[1]!, epoch[2]);
  let m = COMPACT_RE.exec(text);
  if (m) {
    const ms = fromParts(m[1]!, m[2]!, m[3]!, m[4], m[5], m[6]);
    return ms === undefined ? { ok: false, reason: "is not a valid date" } : inRange(ms);
  }
  m = ISO_RE.exec(text);
  if (!m) return { ok: false, reason: "must be ISO 8601, YYYYMMDDTHHMMSSZ or epoch seconds" };
  if (m[7] !== undefined && millisOf(m[7]) === undefined) return { ok: false, reason: SUB_MILLISECOND };
  const local = fromParts(m[1]!, m[2]!, m[3]!, m[4], m[5], m[6], m[7]);
  if (local === undefined) return { ok: false, reason: "is not a valid date" };
  const zone = m[8];
  let offsetMin = 0;
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const zh = Number(digits.slice(0, 2));
    const zm = Number(digits.slice(2, 4));
    if (zh > 23 || zm > 59) return { ok: false, reason: "has an invalid UTC offset" };
    offsetMin = sign * (zh * 60 + zm);
  }
  return inRange(local - offsetMin * 60_000);
}

/** CloudKitty's output form: ISO 8601 in UTC with an explicit offset, `2019-07-23T12:00:00+00:00`. */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2019-07-23T12:00:00.000Z
  const base = iso.slice(0, 19);
  const millis = iso.slice(20, 23);
  return `${base}${millis === "000" ? "" : "." + millis}+00:00`;
}

/** The start of the current UTC month and of the next, CloudKitty's default window. */
export function currentMonthWindow(now = Date.now()): { begin: number; end: number } {
  const d = new Date(now);
  return {
    begin: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
  };
}

/** CloudKitty's default window for reads: the current month. Deletes have no default window. */
export function withDefaultWindow<S extends { readonly begin?: number; readonly end?: number }>(
  selection: S,
  now = Date.now(),
): S & { begin: number; end: number } {
  const month = currentMonthWindow(now);
  return { ...selection, begin: selection.begin ?? month.begin, end: selection.end ?? month.end };
}
