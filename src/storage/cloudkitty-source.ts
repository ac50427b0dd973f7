/**
 * Reading an index written by CloudKitty's own v2 storage (its Elasticsearch or OpenSearch backend), for
 * `ratestore migrate`. Documents come as CloudKitty wrote them; what they mean is the caller's business
 * (src/cli/cloudkitty-documents.ts).
 */

/** One day of the source (by the documents' `start`) and how many documents it holds. */
export interface SourceDay {
  readonly start: number;
  readonly end: number;
  readonly documents: number;
}

export interface SourceDocument {
  readonly id: string;
  readonly source: unknown;
}

export interface CloudKittySource {
  /** `url/index`, for logs, checkpoints and reject files. */
  readonly name: string;
  /** Every day with documents in [begin, end), in order. */
  days(window: { begin?: number; end?: number }): Promise<SourceDay[]>;
  /** The documents of [start, end) by `start`, a page at a time; memory holds one page. */
  documents(start: number, end: number): AsyncIterable<SourceDocument[]>;
  /** The documents that have no `start` (CloudKitty's mapping document, damaged documents). */
  documentsWithoutStart(): AsyncIterable<SourceDocument[]>;
  close(): Promise<void>;
}
