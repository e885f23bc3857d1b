/**
 * UUID syntax checks, so ids are refused before they reach SQL (where a malformed uuid is a database
 * error rather than "not found").
 *
 * @module
 */
import { StorageError } from "./errors.ts";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` is a UUID in its canonical textual form (any version). */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

/** Throws a permanent {@link StorageError} naming `what` unless `value` is a UUID. */
export function requireUuid(value: string, what: string): void {
  if (!isUuid(value)) {
    throw new StorageError(`${what} must be a UUID, got ${JSON.stringify(value)}`, { transient: false });
  }
}
