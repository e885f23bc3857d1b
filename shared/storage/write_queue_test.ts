import assert from "node:assert/strict";
import { StorageError } from "./errors.ts";
import { type QueueTimers, type RetryInfo, WriteQueue } from "./write_queue.ts";

/** Timers that fire only when the test advances time. */
class FakeTimers implements QueueTimers {
  now = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get scheduled(): number {
    return this.pending.size;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promise chains settle after each. */
  async advance(ms: number): Promise<void> {
    await settle();
    const target = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.pending) {
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.pending.delete(next[0]);
      this.now = next[1].at;
      next[1].callback();
      await settle();
    }
    this.now = target;
    await settle();
  }
}

/** Lets every queued promise continuation run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const transient = () => new StorageError("database unreachable", { transient: true, code: "ECONNREFUSED" });

Deno.test("write queue: jobs run in order per key; keys do not wait for each other", async () => {
  const timers = new FakeTimers();
  const queue = new WriteQueue({ timers });
  const order: string[] = [];
  const gate = deferred();
  queue.push("a", async () => {
    await gate.promise;
    order.push("a1");
  });
  queue.push("a", () => Promise.resolve(order.push("a2")));
  queue.push("b", () => Promise.resolve(order.push("b1")));
  await settle();
  assert.deepEqual(order, ["b1"]);
  assert.equal(queue.pending, 2);
  gate.resolve();
  assert.deepEqual(await queue.flush(1000), { flushed: true, pending: 0 });
  assert.deepEqual(order, ["b1", "a1", "a2"]);
  assert.equal(queue.stats().completed, 3);
});

Deno.test("write queue: transient failures are retried with exponential backoff and jitter, in order", async () => {
  const timers = new FakeTimers();
  const retries: RetryInfo[] = [];
  const queue = new WriteQueue({
    timers,
    baseDelayMs: 100,
    maxDelayMs: 250,
    random: () => 0.5,
    onRetry: (info) => retries.push(info),
  });
  let attempts = 0;
  const done: string[] = [];
  queue.push("k", () => {
    attempts++;
    if (attempts <= 4) return Promise.reject(transient());
    done.push("first");
    return Promise.resolve();
  }, "first");
  queue.push("k", () => Promise.resolve(done.push("second")), "second");
  await settle();
  assert.equal(attempts, 1);
  // Half fixed, half jitter (random 0.5): 100 -> 75, 200 -> 150, 400 capped at 250 -> 188, 188.
  assert.deepEqual(retries.map((r) => r.delayMs), [75]);
  await timers.advance(74);
  assert.equal(attempts, 1, "not retried before its delay");
  await timers.advance(1);
  assert.equal(attempts, 2);
  await timers.advance(150);
  assert.equal(attempts, 3);
  await timers.advance(188);
  assert.equal(attempts, 4);
  assert.deepEqual(done, [], "the second job waits behind the first");
  await timers.advance(188);
  assert.equal(attempts, 5);
  assert.deepEqual(done, ["first", "second"]);
  assert.deepEqual(retries.map((r) => [r.attempt, r.delayMs, r.label]), [
    [1, 75, "first"],
    [2, 150, "first"],
    [3, 188, "first"],
    [4, 188, "first"],
  ]);
  assert.deepEqual(queue.stats(), {
    pending: 0,
    completed: 2,
    retries: 4,
    failures: 0,
    dropped: 0,
    abandoned: 0,
  });
  assert.equal(timers.scheduled, 0);
});

Deno.test("write queue: jitter spreads retries between half and all of the delay", async () => {
  for (const [random, expected] of [[0, 50], [0.999, 100]] as const) {
    const timers = new FakeTimers();
    const delays: number[] = [];
    const queue = new WriteQueue({
      timers,
      baseDelayMs: 100,
      random: () => random,
      onRetry: (r) => delays.push(r.delayMs),
    });
    let failed = false;
    queue.push("k", () => {
      if (failed) return Promise.resolve();
      failed = true;
      return Promise.reject(transient());
    });
    await settle();
    assert.deepEqual(delays, [expected]);
    await timers.advance(expected);
    assert.equal(queue.pending, 0);
  }
});

Deno.test("write queue: a permanent failure is counted, reported and skipped", async () => {
  const timers = new FakeTimers();
  const failures: string[] = [];
  const queue = new WriteQueue({ timers, onFailure: (f) => failures.push(`${f.label}:${f.attempts}`) });
  const done: string[] = [];
  queue.push(
    "k",
    () => Promise.reject(new StorageError("violates foreign key", { transient: false })),
    "bad",
  );
  queue.push("k", () => Promise.reject(new TypeError("a bug, not a database")), "bug");
  queue.push("k", () => Promise.resolve(done.push("next")), "next");
  assert.deepEqual(await queue.flush(1000), { flushed: true, pending: 0 });
  assert.deepEqual(failures, ["bad:1", "bug:1"]);
  assert.deepEqual(done, ["next"]);
  assert.equal(queue.stats().failures, 2);
  assert.equal(queue.stats().retries, 0);
});

Deno.test("write queue: the bound refuses new jobs, counts them, and reports once per episode", async () => {
  const timers = new FakeTimers();
  const drops: Array<{ key: string; maxPending: number; dropped: number }> = [];
  const queue = new WriteQueue({
    timers,
    maxPending: 4,
    onDrop: ({ key, maxPending, dropped }) => drops.push({ key, maxPending, dropped }),
  });
  const gate = deferred();
  const ran: number[] = [];
  for (let i = 0; i < 4; i++) {
    assert.equal(queue.push(`k${i % 2}`, () => gate.promise.then(() => ran.push(i))), true);
  }
  assert.equal(queue.push("k9", () => Promise.resolve()), false);
  assert.equal(queue.push("k9", () => Promise.resolve()), false);
  assert.deepEqual(drops, [{ key: "k9", maxPending: 4, dropped: 1 }]);
  assert.equal(queue.stats().dropped, 2);
  gate.resolve();
  assert.deepEqual(await queue.flush(1000), { flushed: true, pending: 0 });
  assert.deepEqual(ran.sort(), [0, 1, 2, 3]);
  // Drained: a new overflow is a new episode, reported again.
  const second = deferred();
  for (let i = 0; i < 4; i++) queue.push("k", () => second.promise);
  assert.equal(queue.push("k", () => Promise.resolve()), false);
  assert.equal(drops.length, 2);
  assert.equal(queue.stats().dropped, 3);
  second.resolve();
  await queue.flush(1000);
});

Deno.test("write queue: flush times out with what is left, and retries a backed-off job at once", async () => {
  const timers = new FakeTimers();
  const queue = new WriteQueue({ timers, baseDelayMs: 30_000, maxDelayMs: 30_000 });
  const gate = deferred();
  queue.push("slow", () => gate.promise);
  const timedOut = queue.flush(500);
  await timers.advance(500);
  assert.deepEqual(await timedOut, { flushed: false, pending: 1 });
  gate.resolve();
  assert.deepEqual(await queue.flush(500), { flushed: true, pending: 0 });

  // A job sleeping through a 30 s backoff is retried as soon as flush is called.
  let up = false;
  queue.push("later", () => (up ? Promise.resolve() : Promise.reject(transient())));
  await settle();
  assert.equal(queue.stats().retries, 1);
  up = true;
  const flushing = queue.flush(1000);
  await settle();
  assert.deepEqual(await flushing, { flushed: true, pending: 0 });
  assert.equal(timers.now < 30_000, true);
  assert.equal(timers.scheduled, 0, "flush timers are cleared");
});

Deno.test("write queue: while the database is down writes queue, then flush in order", async () => {
  const timers = new FakeTimers();
  const queue = new WriteQueue({ timers, baseDelayMs: 100, maxDelayMs: 1000, maxPending: 100 });
  let up = true;
  const stored: string[] = [];
  const write = (key: string, value: string) =>
    queue.push(key, () => {
      if (!up) return Promise.reject(transient());
      stored.push(value);
      return Promise.resolve();
    });
  write("c1", "c1-0");
  await settle();
  up = false;
  for (let i = 1; i <= 20; i++) write(i % 2 ? "c1" : "c2", `${i % 2 ? "c1" : "c2"}-${i}`);
  await timers.advance(5_000);
  assert.deepEqual(stored, ["c1-0"]);
  assert.equal(queue.pending, 20);
  assert.equal(queue.stats().retries > 2, true);
  up = true;
  await timers.advance(1_000);
  assert.deepEqual(await queue.flush(1000), { flushed: true, pending: 0 });
  assert.deepEqual(stored.filter((s) => s.startsWith("c1")), [
    "c1-0",
    ...[1, 3, 5, 7, 9, 11, 13, 15, 17, 19].map((i) => `c1-${i}`),
  ]);
  assert.deepEqual(
    stored.filter((s) => s.startsWith("c2")),
    [2, 4, 6, 8, 10, 12, 14, 16, 18, 20].map((i) => `c2-${i}`),
  );
  assert.equal(new Set(stored).size, 21);
});

Deno.test("write queue: close abandons jobs that have not started and refuses new ones", async () => {
  const timers = new FakeTimers();
  const queue = new WriteQueue({ timers });
  const gate = deferred();
  const ran: string[] = [];
  queue.push("k", () => gate.promise.then(() => ran.push("running")));
  queue.push("k", () => Promise.resolve(ran.push("never")));
  queue.push("k", () => Promise.resolve(ran.push("never")));
  assert.equal(queue.close(), 2);
  assert.equal(queue.push("k", () => Promise.resolve()), false);
  gate.resolve();
  assert.deepEqual(await queue.flush(1000), { flushed: true, pending: 0 });
  assert.deepEqual(ran, ["running"]);
  assert.equal(queue.stats().abandoned, 2);

  // A job waiting out a backoff is abandoned too, and no timer is left behind.
  const second = new WriteQueue({ timers });
  second.push("k", () => Promise.reject(transient()));
  await settle();
  assert.equal(timers.scheduled, 1);
  second.close();
  await settle();
  assert.equal(timers.scheduled, 0);
  assert.deepEqual(second.stats().pending, 0);
  assert.equal(second.stats().abandoned, 1);
});

Deno.test("write queue: rejects a bound that is not a positive integer", () => {
  assert.throws(() => new WriteQueue({ maxPending: 0 }), /maxPending/);
});
