/**
 * The one error type storage adapters reject with, so the write queue can tell a database that is
 * away (retry) from a write that can never succeed (give up, count it, move on).
 *
 * @module
 */

/** A failed storage call. `transient` errors (connection lost, database restarting) are worth retrying. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  /** True when the same call may succeed later unchanged. */
  readonly transient: boolean;
  /** SQLSTATE, PostgREST code or network error code, when known. */
  readonly code: string | null;

  constructor(message: string, options: { transient: boolean; code?: string | null; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.transient = options.transient;
    this.code = options.code ?? null;
  }
}

/**
 * True for errors a retry may cure: a transient {@link StorageError}. Adapters wrap every failure, so
 * anything else is a bug, and retrying a bug forever would stall the conversation's queue.
 */
export function isTransientStorageError(error: unknown): boolean {
  return error instanceof StorageError && error.transient;
}

/**
 * Whether a SQLSTATE describes a passing condition: connection problems (08), too many connections or
 * out of resources (53), operator intervention such as a restart (57), serialization failures and
 * deadlocks (40), system errors (58). Everything else (constraint violations, bad input) is permanent.
 */
export function isTransientSqlState(code: string): boolean {
  return /^(08|53|57|40|58)/.test(code);
}
