/**
 * Timestamps that never repeat or go back, with microsecond resolution, so `created_at` orders a
 * conversation's messages even when two items enter it within the same millisecond or the wall clock
 * steps back.
 *
 * @module
 */

/** Hands out strictly increasing ISO timestamps (6 fractional digits, which timestamptz keeps). */
export class MonotonicClock {
  private lastMicros = -1;

  /** `now` returns milliseconds since the epoch (e.g. `Date.now`). */
  constructor(private readonly now: () => number) {}

  /** The next timestamp: the current time, or 1 µs after the previous one if that is not later. */
  next(): string {
    const micros = Math.max(Math.floor(this.now() * 1000), this.lastMicros + 1);
    this.lastMicros = micros;
    return formatMicros(micros);
  }
}

/** Formats microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function formatMicros(micros: number): string {
  const millis = Math.floor(micros / 1000);
  const extra = micros - millis * 1000;
  return new Date(millis).toISOString().replace("Z", String(extra).padStart(3, "0") + "Z");
}
