/**
 * Shared by every adapter for the per-user limits: the input checks made before a lease or usage call
 * reaches the database (so a bad value is a clear permanent error, not a SQL one), and the mapping of
 * the JSON the `relay_*` functions return (`supabase/migrations/20261121000005_relay_session_leases.sql`)
 * to the store's types.
 *
 * @module
 */
import { StorageError } from "./errors.ts";
import type { SessionLeaseRequest, SessionLeaseResult, UserUsage } from "./store.ts";
import { requireUuid } from "./uuid.ts";

/** The longest lease the database accepts, in seconds. */
export const MAX_LEASE_TTL_SECONDS = 86_400;

/** Usage of a user who has none (or an id that is not a UUID); a fresh object each call. */
export function noUsage(): UserUsage {
  return { seconds: 0, costUsd: 0, limits: { dailySeconds: null, dailyUsd: null } };
}

function invalid(message: string): StorageError {
  return new StorageError(message, { transient: false });
}

/** Throws a permanent StorageError unless `ttlSeconds` is an integer in 1..{@link MAX_LEASE_TTL_SECONDS}. */
export function requireLeaseTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LEASE_TTL_SECONDS) {
    throw invalid(`lease ttlSeconds must be an integer in 1..${MAX_LEASE_TTL_SECONDS}, got ${ttlSeconds}`);
  }
}

/** Throws a permanent StorageError naming the bad field of a lease request. */
export function requireLeaseRequest(input: SessionLeaseRequest): void {
  requireUuid(input.sessionId, "sessionId");
  requireUuid(input.userId, "userId");
  if (typeof input.instanceId !== "string" || input.instanceId === "") {
    throw invalid("lease instanceId must be a non-empty string");
  }
  if (!Number.isInteger(input.maxSessions) || input.maxSessions < 1) {
    throw invalid(
      `lease maxSessions (MAX_SESSIONS_PER_USER) must be an integer of at least 1, got ${input.maxSessions}`,
    );
  }
  requireLeaseTtl(input.ttlSeconds);
}

/** Throws a permanent StorageError unless `costUsd` is a finite amount of at least 0. */
export function requireCost(costUsd: number): void {
  if (!Number.isFinite(costUsd) || costUsd < 0) {
    throw invalid(`session cost must be a finite number of at least 0, got ${costUsd}`);
  }
}

/** `since` as a canonical ISO string; a permanent StorageError when it is not a time. */
export function sinceIso(since: string): string {
  const ms = Date.parse(since);
  if (Number.isNaN(ms)) throw invalid(`usage since must be an ISO time, got ${JSON.stringify(since)}`);
  return new Date(ms).toISOString();
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  // The SQL drivers parse jsonb; a driver configured without that parser hands over the text.
  const parsed = typeof value === "string" ? JSON.parse(value) : value;
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalid(`${what} returned ${JSON.stringify(value)}, expected an object`);
  }
  return parsed as Record<string, unknown>;
}

function asNumber(value: unknown, what: string): number {
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw invalid(`${what} is ${JSON.stringify(value)}, expected a number`);
  }
  return n;
}

function asNumberOrNull(value: unknown, what: string): number | null {
  return value === null || value === undefined ? null : asNumber(value, what);
}

/** Maps `relay_acquire_session_lease`'s `{acquired, active}`. */
export function leaseFromJson(value: unknown): SessionLeaseResult {
  const row = asRecord(value, "relay_acquire_session_lease");
  if (typeof row.acquired !== "boolean") {
    throw invalid(`relay_acquire_session_lease returned acquired=${JSON.stringify(row.acquired)}`);
  }
  return { acquired: row.acquired, active: asNumber(row.active, "relay_acquire_session_lease active") };
}

/** Maps `relay_user_usage_since`'s `{seconds, cost_usd, limits: {daily_seconds, daily_usd}}`. */
export function usageFromJson(value: unknown): UserUsage {
  const row = asRecord(value, "relay_user_usage_since");
  const limits = row.limits === null || row.limits === undefined
    ? {}
    : asRecord(row.limits, "relay_user_usage_since limits");
  return {
    seconds: asNumber(row.seconds, "relay_user_usage_since seconds"),
    costUsd: asNumber(row.cost_usd, "relay_user_usage_since cost_usd"),
    limits: {
      dailySeconds: asNumberOrNull(limits.daily_seconds, "relay_user_usage_since daily_seconds"),
      dailyUsd: asNumberOrNull(limits.daily_usd, "relay_user_usage_since daily_usd"),
    },
  };
}
