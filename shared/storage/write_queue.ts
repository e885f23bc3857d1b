/**
 * Keeps storage off the audio path: the relay hands writes to a {@link WriteQueue} and moves on.
 *
 * Jobs run in order per key (a conversation id), keys run independently. A job that fails with a
 * transient error is retried, with exponential backoff and jitter, until it succeeds; a permanent
 * failure is counted and skipped. While the database is away writes keep queuing up to `maxPending`,
 * then new ones are refused and counted; when it is back they flush in order. `flush()` drains the queue
 * before shutdown (on the edge: inside `EdgeRuntime.waitUntil`).
 *
 * @module
 */
import { isTransientStorageError } from "./errors.ts";

/** One write; it must be idempotent, because a write that failed "after" committing is run again. */
export type WriteJob = () => Promise<unknown>;

/** Timer functions, injectable so tests can move time themselves. */
export interface QueueTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Passed to {@link WriteQueueOptions.onDrop} when the bound is hit (once per episode). */
export interface DropInfo {
  /** The key whose job was refused first in this episode. */
  key: string;
  label: string;
  /** The configured bound. */
  maxPending: number;
  /** Jobs refused since the queue was created, this one included. */
  dropped: number;
}

/** Passed to {@link WriteQueueOptions.onRetry} before a failed job is retried. */
export interface RetryInfo {
  key: string;
  label: string;
  error: unknown;
  /** Attempts made so far (1 after the first failure). */
  attempt: number;
  delayMs: number;
}

/** Passed to {@link WriteQueueOptions.onFailure} when a job is given up (permanent error). */
export interface FailureInfo {
  key: string;
  label: string;
  error: unknown;
  attempts: number;
}

/** Tuning and hooks for {@link WriteQueue}; every field has a default. */
export interface WriteQueueOptions {
  /** Jobs held at most (queued and running, all keys); default 10 000. */
  maxPending?: number;
  /** First retry delay; default 250 ms. Doubles per attempt up to `maxDelayMs`. */
  baseDelayMs?: number;
  /** Longest retry delay; default 30 s. */
  maxDelayMs?: number;
  /** Source of jitter in [0, 1); default `Math.random`. */
  random?: () => number;
  /** Default: the global `setTimeout`/`clearTimeout`. */
  timers?: QueueTimers;
  /** Which errors are retried; default: transient `StorageError`s. Others are counted as failures. */
  isTransient?: (error: unknown) => boolean;
  /** The bound was hit: called once per episode (until the queue drains to half the bound). */
  onDrop?: (info: DropInfo) => void;
  /** A job failed and will be retried after `delayMs`. */
  onRetry?: (info: RetryInfo) => void;
  /** A job failed permanently and was skipped. */
  onFailure?: (info: FailureInfo) => void;
}

/** Counters for metrics. */
export interface WriteQueueStats {
  /** Jobs queued or running now. */
  pending: number;
  /** Jobs that succeeded. */
  completed: number;
  /** Retries scheduled (a job failing three times then succeeding counts 3). */
  retries: number;
  /** Jobs given up after a permanent error. */
  failures: number;
  /** Jobs refused because the queue was full. */
  dropped: number;
  /** Jobs abandoned by {@link WriteQueue.close}. */
  abandoned: number;
}

/** Result of {@link WriteQueue.flush}. */
export interface FlushResult {
  /** True when the queue was empty before the timeout. */
  flushed: boolean;
  /** Jobs still queued or running. */
  pending: number;
}

interface Entry {
  job: WriteJob;
  label: string;
}

interface Lane {
  jobs: Entry[];
  timer: unknown;
  wake: (() => void) | null;
}

interface FlushWaiter {
  resolve: (result: FlushResult) => void;
  timer: unknown;
}

const defaultTimers: QueueTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** Ordered-per-key, retrying, bounded background writer. See the module doc. */
export class WriteQueue {
  readonly maxPending: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly random: () => number;
  private readonly timers: QueueTimers;
  private readonly isTransient: (error: unknown) => boolean;
  private readonly options: WriteQueueOptions;
  private readonly lanes = new Map<string, Lane>();
  private waiters: FlushWaiter[] = [];
  private pendingCount = 0;
  private completed = 0;
  private retries = 0;
  private failures = 0;
  private dropped = 0;
  private abandoned = 0;
  private dropping = false;
  private closed = false;

  constructor(options: WriteQueueOptions = {}) {
    this.options = options;
    this.maxPending = options.maxPending ?? 10_000;
    if (!Number.isInteger(this.maxPending) || this.maxPending < 1) {
      throw new RangeError(`WriteQueue maxPending must be a positive integer, got ${options.maxPending}`);
    }
    this.baseDelayMs = options.baseDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? defaultTimers;
    this.isTransient = options.isTransient ?? isTransientStorageError;
  }

  /**
   * Queues `job` behind the other jobs of `key`. Returns false (and counts a drop) when the queue is
   * full or closed; never throws, never waits.
   */
  push(key: string, job: WriteJob, label = "write"): boolean {
    if (this.closed) {
      this.dropped++;
      return false;
    }
    if (this.pendingCount >= this.maxPending) {
      this.dropped++;
      if (!this.dropping) {
        this.dropping = true;
        this.callHook(() =>
          this.options.onDrop?.({ key, label, maxPending: this.maxPending, dropped: this.dropped })
        );
      }
      return false;
    }
    this.pendingCount++;
    let lane = this.lanes.get(key);
    if (lane) {
      lane.jobs.push({ job, label });
    } else {
      lane = { jobs: [{ job, label }], timer: undefined, wake: null };
      this.lanes.set(key, lane);
      void this.drain(key, lane);
    }
    return true;
  }

  /** Current counters. */
  stats(): WriteQueueStats {
    return {
      pending: this.pendingCount,
      completed: this.completed,
      retries: this.retries,
      failures: this.failures,
      dropped: this.dropped,
      abandoned: this.abandoned,
    };
  }

  /** Jobs queued or running now. */
  get pending(): number {
    return this.pendingCount;
  }

  /**
   * Waits until every queued job has settled or `timeoutMs` passed. Jobs waiting out a retry delay are
   * retried at once (a shutdown should not sleep through a long backoff); later delays apply as usual.
   */
  flush(timeoutMs: number): Promise<FlushResult> {
    if (this.pendingCount === 0) return Promise.resolve({ flushed: true, pending: 0 });
    for (const lane of this.lanes.values()) this.wakeLane(lane);
    return new Promise((resolve) => {
      const waiter: FlushWaiter = { resolve, timer: undefined };
      waiter.timer = this.timers.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve({ flushed: false, pending: this.pendingCount });
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Stops the queue: jobs that have not started are abandoned, a job waiting out a retry delay is woken
   * and abandoned, later pushes are refused (all counted). A job already running finishes on its own.
   * Returns how many waiting jobs were abandoned at once. For the very end of a shutdown, after `flush`.
   */
  close(): number {
    if (this.closed) return 0;
    this.closed = true;
    let abandoned = 0;
    for (const lane of this.lanes.values()) {
      // The head job is running or waiting out a retry delay; `drain` settles it (woken here, it sees
      // `closed` and gives up). The jobs behind it never start.
      abandoned += lane.jobs.length - 1;
      lane.jobs.length = 1;
      this.wakeLane(lane);
    }
    this.abandoned += abandoned;
    this.pendingCount -= abandoned;
    this.settleWaiters();
    return abandoned;
  }

  private async drain(key: string, lane: Lane): Promise<void> {
    while (lane.jobs.length > 0) {
      const entry = lane.jobs[0];
      let attempts = 0;
      while (true) {
        try {
          await entry.job();
          this.completed++;
          break;
        } catch (error) {
          attempts++;
          if (this.closed) {
            this.abandoned++;
            break;
          }
          if (!this.isTransient(error)) {
            this.failures++;
            this.callHook(() => this.options.onFailure?.({ key, label: entry.label, error, attempts }));
            break;
          }
          this.retries++;
          const delayMs = this.backoff(attempts);
          this.callHook(() =>
            this.options.onRetry?.({ key, label: entry.label, error, attempt: attempts, delayMs })
          );
          await this.sleep(lane, delayMs);
          if (this.closed) {
            this.abandoned++;
            break;
          }
        }
      }
      lane.jobs.shift();
      this.pendingCount--;
      if (this.dropping && this.pendingCount <= Math.floor(this.maxPending / 2)) this.dropping = false;
      if (this.pendingCount === 0) this.settleWaiters();
    }
    this.lanes.delete(key);
  }

  /** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(ceiling / 2 + this.random() * (ceiling / 2));
  }

  private sleep(lane: Lane, ms: number): Promise<void> {
    return new Promise((resolve) => {
      lane.wake = () => {
        lane.wake = null;
        if (lane.timer !== undefined) this.timers.clearTimeout(lane.timer);
        lane.timer = undefined;
        resolve();
      };
      lane.timer = this.timers.setTimeout(() => {
        lane.timer = undefined;
        lane.wake?.();
      }, ms);
    });
  }

  private wakeLane(lane: Lane): void {
    lane.wake?.();
  }

  private settleWaiters(): void {
    if (this.pendingCount !== 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      this.timers.clearTimeout(waiter.timer);
      waiter.resolve({ flushed: true, pending: 0 });
    }
  }

  private callHook(hook: () => void): void {
    try {
      hook();
    } catch {
      // A broken log or metrics hook must not stop the writes.
    }
  }
}
