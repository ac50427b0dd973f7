/** JSON writing that keeps exact decimal amounts exact. */
import { randomBytes } from "node:crypto";
import { formatNanos, type Nanos } from "../storage/decimal.js";

/**
 * JSON with exact decimal amounts. `JSON.stringify` can only write a number it holds as a double, and
 * `123456789.123456789` is no double: written through one it would reach a client parsing with
 * `Decimal` altered. An ExactDecimal is written as its exact decimal text, as a JSON number literal.
 */
export class ExactDecimal {
  readonly text: string;

  constructor(nanos: Nanos) {
    this.text = formatNanos(nanos);
  }

  /** Outside stringifyExact (a plain JSON.stringify), the nearest double: never a marker string. */
  toJSON(): number | string {
    return writingExact ? MARK + this.text : Number(this.text);
  }
}

let writingExact = false;
/** A per-process nonce after a NUL: no label value can forge it, since it cannot be guessed. */
const NONCE = randomBytes(9).toString("hex");
const MARK = `\u0000${NONCE}:`;
const MARKED = new RegExp(`"\\\\u0000${NONCE}:(-?[0-9]+(?:\\.[0-9]+)?)"`, "g");

/** JSON.stringify, with every ExactDecimal written as the exact number it is. */
export function stringifyExact(value: unknown): string {
  writingExact = true;
  try {
    return JSON.stringify(value).replace(MARKED, "$1");
  } finally {
    writingExact = false;
  }
}
