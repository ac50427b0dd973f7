/**
 * Typed errors. Each layer throws these; the HTTP layer maps them to status codes in one place
 * (src/api/errors.ts) and the CLI maps them to exit codes.
 */

/** One problem with one field of the input, addressed by its path (for example `dataframes[1].usage.cpu[0].rating`). */
export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

export abstract class RatestoreError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error about particular fields of the request, each named in `issues`. */
abstract class FieldsError extends RatestoreError {
  constructor(
    message: string,
    readonly issues: readonly FieldIssue[] = [],
  ) {
    super(message);
  }
}

/** The caller sent something invalid; `issues` names every bad field. */
export class ValidationError extends FieldsError {
  readonly code = "validation_error";

  static forField(path: string, message: string): ValidationError {
    return new ValidationError(`${path}: ${message}`, [{ path, message }]);
  }
}

/** The cluster cannot be reached or is overloaded; the caller may retry (pushes are idempotent). */
export class BackendUnavailableError extends RatestoreError {
  readonly code = "backend_unavailable";
  /** The HTTP status the cluster (or a gateway in front of it) answered with; undefined when no answer came. */
  readonly status: number | undefined;
  constructor(
    message: string,
    readonly retryAfterSeconds = 5,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options);
    this.status = options?.status;
  }
}

/** The cluster answered with an error that is neither the caller's fault nor transient. */
export class BackendError extends RatestoreError {
  readonly code = "backend_error";
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Whether a failed request is known not to have been carried out: the cluster answered it with an error
 * status. A request with no answer (a timeout, a dropped connection) or one answered by a gateway that
 * lost or timed out on it (502, 504) may still be carried out by the cluster.
 */
export function refusedWhole(err: unknown): boolean {
  const status = err instanceof BackendUnavailableError || err instanceof BackendError ? err.status : undefined;
  return status !== undefined && status !== 502 && status !== 504;
}

/**
 * A total that the cluster's sums cannot give to the last nano-unit (sums of doubles past 2^53). It is
 * refused rather than answered rounded: a billing figure is exact or it is not given.
 */
export class InexactTotalError extends RatestoreError {
  readonly code = "inexact_total";
}

/** A configuration value is missing or invalid; raised at start-up. */
export class ConfigError extends RatestoreError {
  readonly code = "config_error";
}

/** No backend is registered under the configured name. */
export class UnknownBackendError extends RatestoreError {
  readonly code = "unknown_backend";
}

/** No credentials, or credentials that match no key. */
export class UnauthorizedError extends RatestoreError {
  readonly code = "unauthorized";
}

/** Valid credentials that do not allow this request (a project key writing another project's data). */
export class ForbiddenError extends FieldsError {
  readonly code = "forbidden";
}

/** Nothing matches (CloudKitty answers 404 to a dataframes query with no result). */
export class NotFoundError extends RatestoreError {
  readonly code = "not_found";
}
