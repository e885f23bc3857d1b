/**
 * When and how soon the client reconnects after its socket closes: with backoff after abnormal ends
 * (network loss, relay restart or overload, upstream loss, session time limits), never after a refusal
 * that a retry cannot fix (4001 unauthorized, 4003 forbidden, 4029 too many sessions) or a normal end.
 *
 * @module
 */

/** Tuning for reconnects; `reconnect: false` in the client options turns them off. */
export interface ReconnectPolicy {
  /** Attempts after one disconnect before giving up (default 8). */
  maxAttempts: number;
  /** Delay before the first attempt (default 500 ms); doubles per attempt. */
  initialDelayMs: number;
  /** Cap on the delay (default 15 s). */
  maxDelayMs: number;
}

/** The defaults of {@link ReconnectPolicy}. */
export const defaultReconnectPolicy: ReconnectPolicy = {
  maxAttempts: 8,
  initialDelayMs: 500,
  maxDelayMs: 15_000,
};

/** Close codes after which reconnecting cannot help; the client stops and reports the reason. */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([4001, 4003, 4029]);

/** Close codes of an abnormal end that a new connection may fix. */
const RETRYABLE_CLOSE_CODES: ReadonlySet<number> = new Set([
  1001, // going away: the upstream's session time limit, a client that missed pings
  1005, // no status received
  1006, // abnormal closure: the network dropped, the process died
  1008, // the client fell too far behind on audio
  1011, // upstream unreachable or lost
  1012, // relay restarting
  1013, // relay full or token check briefly unavailable
  1014, // bad gateway
]);

/** True when a socket that closed with `code` should be reopened. */
export function shouldReconnect(code: number): boolean {
  if (FATAL_CLOSE_CODES.has(code)) return false;
  return RETRYABLE_CLOSE_CODES.has(code);
}

/**
 * Delay before reconnect attempt `attempt` (1-based): exponential, capped, with jitter in the upper
 * half so many clients cut at once (a relay restart) do not come back in lockstep. `random` is 0..1.
 */
export function reconnectDelayMs(
  attempt: number,
  policy: ReconnectPolicy = defaultReconnectPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
