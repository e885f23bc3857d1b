/**
 * Timers owned by one simulated connection, so closing the connection cancels every pending one (no
 * stray timer keeps a process or a test alive).
 *
 * @module
 */

/** A set of pending timeouts that can all be cancelled at once. */
export class TimerSet {
  private readonly pending = new Set<ReturnType<typeof setTimeout>>();
  private disposed = false;

  /** Runs `fn` after `ms`; returns a cancel function. Does nothing once {@link clearAll} ran. */
  after(ms: number, fn: () => void): () => void {
    if (this.disposed) return () => {};
    const handle = setTimeout(() => {
      this.pending.delete(handle);
      fn();
    }, Math.max(0, ms));
    this.pending.add(handle);
    return () => {
      clearTimeout(handle);
      this.pending.delete(handle);
    };
  }

  /** Cancels every pending timer and refuses new ones. */
  clearAll(): void {
    this.disposed = true;
    for (const handle of this.pending) clearTimeout(handle);
    this.pending.clear();
  }
}
