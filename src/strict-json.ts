/** Finds in a JSON text what `JSON.parse` would silently alter, each by its path. */
import type { FieldIssue } from "./errors.js";
import { formatPath } from "./validation.js";

/**
 * Finds, in a JSON text, what `JSON.parse` would silently alter: a key given twice in one object (the
 * last one wins), a string with a lone UTF-16 surrogate escape (`"\ud800"`, which engines store as
 * U+FFFD, a value never sent), and a number whose value a double does not keep (`12345678901234567890`
 * read as 12345678901234567000, `1e-400` read as 0). Each is reported by its path, as the validators
 * report fields. A text that is not JSON is left to `JSON.parse` to refuse: the scan stops where it
 * stops making sense and reports what it found before.
 */

/** Issues reported at most: a body full of them is named by its first ones. */
const MAX_ISSUES = 20;

/** A literal of at most 15 significant digits and no exponent is always read back as written (DBL_DIG). */
const SHORT_NUMBER = 15;

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
/** Lone surrogates, with the `u` flag: a well-formed pair is one code point and does not match. */
const LONE_SURROGATE_RE = /[\uD800-\uDFFF]/u;
const LITERAL_RE = /true|false|null/y;

/** A decimal literal's value in one canonical text (`12e3` and `12000.0` alike), or undefined for what is not one. */
function canonicalValue(text: string): string | undefined {
  const m = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!m) return undefined;
  let digits = (m[2] ?? "") + (m[3] ?? "");
  let exponent = Number(m[4] ?? "0") - (m[3] ?? "").length;
  const lead = /^0*/.exec(digits)![0].length;
  digits = digits.slice(lead);
  if (digits === "") return "0"; // -0 is 0
  const trail = /0*$/.exec(digits)![0].length;
  digits = digits.slice(0, digits.length - trail);
  exponent += trail;
  return `${m[1]}${digits}e${exponent}`;
}

/** Why a number literal is not read back as written, or undefined when it is. */
export function numberAlteration(literal: string): string | undefined {
  let significant = 0;
  for (let i = 0; i < literal.length; i++) {
    const c = literal.charCodeAt(i);
    if (c === 101 || c === 69) {
      significant = SHORT_NUMBER + 1; // an exponent: checked in full
      break;
    }
    if (c >= 48 && c <= 57) significant++;
  }
  if (significant <= SHORT_NUMBER) return undefined;
  const read = Number(literal);
  if (!Number.isFinite(read)) return `is a number beyond the range of a double (${literal}); send it as a string`;
  if (canonicalValue(literal) === canonicalValue(String(read))) return undefined;
  return `is a number that a double cannot hold as written (${literal} would be read as ${String(read)}); send it as a string`;
}

type Frame = { readonly object: true; keys: string[] | Set<string>; key: string } | { readonly object: false; index: number };

/** Above this many keys an object's keys are kept in a Set; below, an array is cheaper to build. */
const SET_ABOVE = 16;

function seen(frame: Frame & { object: true }, key: string): boolean {
  const keys = frame.keys;
  if (keys instanceof Set) {
    if (keys.has(key)) return true;
    keys.add(key);
    return false;
  }
  if (keys.includes(key)) return true;
  keys.push(key);
  if (keys.length > SET_ABOVE) frame.keys = new Set(keys);
  return false;
}

export function strictJsonIssues(text: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const stack: Frame[] = [];
  const pathOf = (): string => formatPath(stack.map((f) => (f.object ? f.key : f.index)));
  const report = (message: string) => issues.push({ path: pathOf(), message });
  const n = text.length;
  let i = 0;
  const skipSpace = () => {
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return;
    }
  };
  // The next backslash at or after a position, found once per stretch: strings without escapes cost one indexOf.
  let backslash = -1;
  const backslashFrom = (j: number) => {
    if (backslash !== Infinity && backslash < j) {
      backslash = text.indexOf("\\", j);
      if (backslash < 0) backslash = Infinity;
    }
    return backslash;
  };
  /** Reads the string at i (its opening quote), returns its decoded value, or undefined when it is not a string. */
  const readString = (): string | undefined => {
    const start = i;
    let j = i + 1;
    let escaped = false;
    for (;;) {
      const q = text.indexOf('"', j);
      if (q < 0) return undefined;
      const b = backslashFrom(j);
      if (b < q) {
        escaped = true;
        j = b + 2;
        continue;
      }
      i = q + 1;
      break;
    }
    const raw = text.slice(start + 1, i - 1);
    if (!escaped) return raw;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return undefined;
    }
  };
  // The scan: a value, then what may follow it, with the open containers on the stack.
  let expectValue = true;
  while (issues.length < MAX_ISSUES) {
    skipSpace();
    if (i >= n) break;
    const c = text[i]!;
    if (expectValue) {
      if (c === "{") {
        if (!opensEmpty("}")) {
          stack.push({ object: true, keys: [], key: "" });
          if (!readKey()) break;
        }
        continue;
      }
      if (c === "[") {
        if (!opensEmpty("]")) stack.push({ object: false, index: 0 });
        continue;
      }
      if (c === '"') {
        const value = readString();
        if (value === undefined) break;
        if (LONE_SURROGATE_RE.test(value))
          report("is a string with a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which cannot be stored as sent");
        expectValue = false;
        continue;
      }
      NUMBER_RE.lastIndex = i;
      const num = NUMBER_RE.exec(text);
      if (num) {
        i += num[0].length;
        const why = numberAlteration(num[0]);
        if (why) report(why);
        expectValue = false;
        continue;
      }
      LITERAL_RE.lastIndex = i;
      const lit = LITERAL_RE.exec(text);
      if (!lit) break;
      i += lit[0].length;
      expectValue = false;
      continue;
    }
    // After a value: a separator or the end of its container.
    const top = stack[stack.length - 1];
    if (!top) break;
    if (c === ",") {
      i++;
      if (top.object) {
        skipSpace();
        if (!readKey()) break;
      } else {
        top.index++;
        expectValue = true;
      }
      continue;
    }
    if ((top.object && c === "}") || (!top.object && c === "]")) {
      i++;
      stack.pop();
      continue;
    }
    break;
  }
  return issues;

  /** Steps over a container's opening character; true (and past its end) when the container is empty. */
  function opensEmpty(closer: string): boolean {
    i++;
    skipSpace();
    if (text[i] !== closer) return false;
    i++;
    expectValue = false;
    return true;
  }

  /** Reads `"key":` into the object on top of the stack; false when the text is not JSON there. */
  function readKey(): boolean {
    const top = stack[stack.length - 1] as Frame & { object: true };
    if (text[i] !== '"') return false;
    const key = readString();
    if (key === undefined) return false;
    top.key = key;
    if (LONE_SURROGATE_RE.test(key))
      report("is a key with a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which cannot be stored as sent");
    if (seen(top, key))
      report("is given twice in one object; JSON keeps only the last, so the request is refused rather than read without the first");
    skipSpace();
    if (text[i] !== ":") return false;
    i++;
    expectValue = true;
    return true;
  }
}
