/**
 * Reads dataframes from text chunks without holding the whole input: NDJSON (one dataframe per line),
 * a JSON list of dataframes, or `{"dataframes": [...]}`. Each record comes with the line it starts on,
 * for reject files and resumption.
 */
export interface SourceRecord {
  /** 0-based index of the record in its source. */
  readonly index: number;
  /** 1-based line where the record starts. */
  readonly line: number;
  readonly text: string;
}

/** How an input holds its dataframes. */
export type SourceFormat = "ndjson" | "json-list" | "dataframes-object";

/** How far into an input its format is looked for: a first NDJSON record larger than this is read as NDJSON. */
const DETECT_BYTES = 65_536;

/**
 * The format of an input from its first characters, or undefined while they do not tell yet: `[` is a
 * JSON list; an object with a top-level `dataframes` key (wherever it comes: `GET /v2/dataframes` and
 * CloudKitty write `{"total": N, "dataframes": [...]}`) holds the list there; any other object is the
 * first line of NDJSON.
 */
export function detectFormat(head: string, done: boolean): SourceFormat | undefined {
  const start = head.search(/\S/);
  if (start < 0) return done ? "ndjson" : undefined;
  if (head[start] === "[") return "json-list";
  if (head[start] !== "{") return "ndjson";
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stringStart = -1;
  let lastString: string | undefined;
  for (let i = start; i < head.length; i++) {
    const c = head[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') {
        inString = false;
        if (depth === 1) lastString = head.slice(stringStart, i);
      }
      continue;
    }
    if (c === '"') {
      inString = true;
      stringStart = i + 1;
    } else if (c === ":" && depth === 1 && lastString !== undefined) {
      if (lastString === "dataframes") return "dataframes-object";
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return "ndjson";
    } else if (!/\s/.test(c)) lastString = undefined;
  }
  return done || head.length > DETECT_BYTES ? "ndjson" : undefined;
}

/** The records of an input, in the format its first characters tell (reported through `detected`). */
export async function* records(chunks: AsyncIterable<string>, detected?: (format: SourceFormat) => void): AsyncGenerator<SourceRecord> {
  const it = chunks[Symbol.asyncIterator]();
  let head = "";
  let format: SourceFormat | undefined;
  while (format === undefined) {
    const { value, done } = await it.next();
    if (!done) head += value;
    format = detectFormat(head, done === true);
    if (done) break;
  }
  detected?.(format ?? "ndjson");
  const all = concat(head, { [Symbol.asyncIterator]: () => it });
  yield* format === "ndjson" || format === undefined ? ndjsonLines(all) : jsonListElements(all);
}

async function* concat(head: string, rest: AsyncIterable<string>): AsyncGenerator<string> {
  if (head !== "") yield head;
  yield* rest;
}

async function* ndjsonLines(chunks: AsyncIterable<string>): AsyncGenerator<SourceRecord> {
  let carry = "";
  let line = 1;
  let index = 0;
  for await (const chunk of chunks) {
    const text = carry + chunk;
    let from = 0;
    let nl: number;
    while ((nl = text.indexOf("\n", from)) >= 0) {
      const record = text.slice(from, nl);
      if (record.trim() !== "") yield { index: index++, line, text: record };
      line++;
      from = nl + 1;
    }
    carry = text.slice(from);
  }
  if (carry.trim() !== "") yield { index, line, text: carry };
}

/**
 * Splits the elements of the list of dataframes with a small state machine (depth, strings, escapes).
 * The list is the top-level array, or the value of `dataframes` in the top-level object.
 */
async function* jsonListElements(chunks: AsyncIterable<string>): AsyncGenerator<SourceRecord> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let listDepth = -1;
  let listOver = false;
  let key = "";
  let keyStart = -1;
  let parts: string[] = [];
  let inElement = false;
  let elementLine = 0;
  let line = 1;
  let index = 0;
  for await (const chunk of chunks) {
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92 /* \ */) escaped = true;
        else if (c === 34 /* " */) {
          inString = false;
          if (keyStart >= 0) {
            key = chunk.slice(keyStart, i);
            keyStart = -1;
          }
        }
      } else if (c === 34) {
        inString = true;
        if (depth === 1 && listDepth < 0) keyStart = i + 1;
      } else if (c === 91 /* [ */ || c === 123 /* { */) {
        depth++;
        if (listDepth < 0 && c === 91 && (depth === 1 || (depth === 2 && key === "dataframes"))) listDepth = depth;
        else if (!listOver && depth === listDepth + 1 && !inElement) {
          inElement = true;
          from = i;
          elementLine = line;
        }
      } else if (c === 93 /* ] */ || c === 125 /* } */) {
        depth--;
        if (inElement && depth === listDepth) {
          parts.push(chunk.slice(from, i + 1));
          yield { index: index++, line: elementLine, text: parts.join("") };
          parts = [];
          inElement = false;
        } else if (depth < listDepth) listOver = true;
      } else if (c === 10 /* \n */) line++;
    }
    if (inElement) parts.push(chunk.slice(from));
  }
}
