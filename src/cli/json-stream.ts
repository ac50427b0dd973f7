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

const FIRST_KEY_RE = /^\s*\{\s*"((?:[^"\\]|\\.)*)"/;

/** Tells the format from the first characters: `[` or an object whose first key is `dataframes` is one JSON document. */
export async function* records(chunks: AsyncIterable<string>): AsyncGenerator<SourceRecord> {
  const it = chunks[Symbol.asyncIterator]();
  let head = "";
  let json: boolean | undefined;
  while (json === undefined) {
    const { value, done } = await it.next();
    if (!done) head += value;
    const first = /\S/.exec(head)?.[0];
    if (first === "[") json = true;
    else if (first === "{") {
      const key = FIRST_KEY_RE.exec(head);
      if (key) json = key[1] === "dataframes";
      else if (done || head.length > 65_536) json = false;
    } else if (first !== undefined || done) json = false;
    if (done) break;
  }
  const all = concat(head, { [Symbol.asyncIterator]: () => it });
  yield* json ? jsonListElements(all) : ndjsonLines(all);
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
