/**
 * Bounds connection attempts per key (a user id, a client address) per minute on this instance, so a
 * reconnect storm or a credential-stuffing client cannot make the relay verify tokens and dial upstream
 * without limit. A sliding window over the current and the previous minute; memory is bounded.
 *
 * @module
 */

/** Counts attempts per key; {@link AttemptLimiter.allow} says whether one more is within the bound. */
export class AttemptLimiter {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private windowStart: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
    private readonly maxKeys = 100_000,
  ) {
    this.windowStart = now();
  }

  /** Records an attempt for `key`; false when it exceeds the bound (the attempt still counts). */
  allow(key: string): boolean {
    const now = this.now();
    const elapsed = now - this.windowStart;
    if (elapsed >= 60_000) {
      this.previous = elapsed >= 120_000 ? new Map() : this.current;
      this.current = new Map();
      this.windowStart = now - (elapsed % 60_000);
    }
    if (this.current.size >= this.maxKeys && !this.current.has(key)) return false;
    const count = (this.current.get(key) ?? 0) + 1;
    this.current.set(key, count);
    const weight = 1 - (now - this.windowStart) / 60_000;
    return count + (this.previous.get(key) ?? 0) * weight <= this.perMinute;
  }
}

/** True when a browser `Origin` is allowed: no list configured, no Origin sent (not a browser), or listed. */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (allowed.length === 0 || origin === undefined) return true;
  return allowed.includes("*") || allowed.includes(origin.replace(/\/+$/, ""));
}
