/**
 * The little the SQL store and the migration runner need from a PostgreSQL driver, so PGlite and
 * `postgres` (porsager) run the very same SQL text and differ only in this seam.
 *
 * @module
 */
import { isTransientSqlState, StorageError } from "../../shared/storage/errors.ts";

/**
 * A bind parameter. JSON and timestamps are passed as text and cast in SQL through text
 * (`$1::text::jsonb`, `$2::text::timestamptz`): with a bare `$1::jsonb` the `postgres` package would
 * serialize the string again (storing a JSON string scalar), and with `$2::timestamptz` it would round
 * the time through `Date` (losing the microseconds that order a conversation). PGlite does neither.
 */
export type SqlParam = string | number | boolean | null;

/** A connection (pool) to one PostgreSQL database. */
export interface SqlDriver {
  /** Which driver this is, for messages. */
  readonly kind: "pglite" | "postgres";
  /** One statement with `$n` parameters; resolves to its rows. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly SqlParam[]): Promise<Row[]>;
  /** A script of several statements, without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Runs `work` in one transaction on one connection; rolls back when it throws. Not nestable. */
  transaction<T>(work: (tx: SqlDriver) => Promise<T>): Promise<T>;
  /** Closes the connection(s). */
  close(): Promise<void>;
}

// errno-style socket errors (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, EAI_AGAIN...) and the
// `postgres` package's own codes for a lost connection.
const transientNetworkCode = /^(E[A-Z_]+|CONNECTION_CLOSED|CONNECT_TIMEOUT)$/;
const sqlStatePattern = /^[0-9A-Z]{5}$/;

/**
 * Wraps a driver error in a {@link StorageError}: SQLSTATEs are transient or not by class, lost
 * connections are transient, anything else (driver closed, bugs) is permanent.
 */
export function toStorageError(error: unknown, operation: string, driver: string): StorageError {
  if (error instanceof StorageError) return error;
  const code = typeof (error as { code?: unknown })?.code === "string"
    ? (error as { code: string }).code
    : null;
  const message = error instanceof Error ? error.message : String(error);
  let transient = false;
  if (code !== null && sqlStatePattern.test(code) && !transientNetworkCode.test(code)) {
    transient = isTransientSqlState(code);
  } else if (code !== null) {
    transient = transientNetworkCode.test(code);
  }
  return new StorageError(`${driver} ${operation} failed${code ? ` (${code})` : ""}: ${message}`, {
    transient,
    code,
    cause: error,
  });
}
