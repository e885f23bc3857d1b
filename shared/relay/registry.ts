/**
 * The sessions this relay instance holds: capacity checks, keepalive rounds and drain all go through it.
 *
 * @module
 */
import type { RelaySession } from "./session.ts";

/** Tracks live sessions and connection slots reserved while a new connection is being authenticated. */
export class SessionRegistry {
  private readonly sessions = new Set<RelaySession>();
  private reserved = 0;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  /** True once the instance stops accepting sessions (shutdown). */
  draining = false;

  constructor(readonly maxConnections: number) {}

  /** Sessions open now, plus connections past the capacity check but not yet upgraded. */
  get active(): number {
    return this.sessions.size + this.reserved;
  }

  /** Claims a slot for a connection being checked; false when the instance is full. */
  reserve(): boolean {
    if (this.active >= this.maxConnections) return false;
    this.reserved++;
    return true;
  }

  /** Gives a reserved slot back (auth failed, or the session took it over). */
  release(): void {
    if (this.reserved > 0) this.reserved--;
  }

  /** Turns a reserved slot into a live session; the slot frees itself when the session ends. */
  adopt(session: RelaySession): void {
    this.release();
    this.sessions.add(session);
    session.finished.then(() => this.sessions.delete(session));
  }

  /** A snapshot of the live sessions. */
  list(): RelaySession[] {
    return [...this.sessions];
  }

  /** Starts keepalive rounds every `intervalMs` (0 disables them). */
  startKeepalive(intervalMs: number): void {
    if (intervalMs <= 0 || this.keepaliveTimer !== undefined) return;
    this.keepaliveTimer = setInterval(() => {
      for (const session of this.sessions) session.keepalive();
    }, intervalMs);
  }

  /** Stops the keepalive timer (shutdown, tests). */
  stopKeepalive(): void {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }
}
