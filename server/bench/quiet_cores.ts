/**
 * Waits (bounded) until the pinned cores are quiet: on a shared machine other jobs come and go, and a
 * run measured while they use the relay's or the load generator's core is not worth much.
 *
 * @module
 */
import { readCoreTicks } from "./proc_stats.ts";

/** What {@link waitForQuietCores} saw. */
export interface QuietWait {
  /** Milliseconds spent waiting. */
  waitedMs: number;
  /** Busy share of the busiest watched core in the last sample (0-1). */
  lastBusy: number;
  quiet: boolean;
}

/**
 * Samples the busy share of `cores` over `sampleMs` windows until every one is below `threshold` or
 * `maxWaitMs` has passed. Call it when the bench's own processes are idle.
 */
export async function waitForQuietCores(
  cores: number[],
  options: { threshold?: number; sampleMs?: number; maxWaitMs?: number } = {},
): Promise<QuietWait> {
  const threshold = options.threshold ?? 0.1;
  const sampleMs = options.sampleMs ?? 500;
  const maxWaitMs = options.maxWaitMs ?? 10_000;
  const started = performance.now();
  let lastBusy = 1;
  while (true) {
    const before = readCoreTicks();
    await new Promise((resolve) => setTimeout(resolve, sampleMs));
    const after = readCoreTicks();
    lastBusy = Math.max(
      ...cores.map((core) => {
        const total = (after[core]?.total ?? 0) - (before[core]?.total ?? 0);
        return total > 0 ? ((after[core].busy - before[core].busy) / total) : 0;
      }),
    );
    const waitedMs = performance.now() - started;
    if (lastBusy < threshold) return { waitedMs, lastBusy, quiet: true };
    if (waitedMs >= maxWaitMs) return { waitedMs, lastBusy, quiet: false };
  }
}
