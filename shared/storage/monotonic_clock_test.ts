import assert from "node:assert/strict";
import { formatMicros, MonotonicClock } from "./monotonic_clock.ts";

Deno.test("monotonic clock: strictly increasing within a millisecond and when the clock steps back", () => {
  const times = [1_000, 1_000, 1_000, 999, 1_002];
  let i = 0;
  const clock = new MonotonicClock(() => times[i++]);
  assert.deepEqual([clock.next(), clock.next(), clock.next(), clock.next(), clock.next()], [
    "1970-01-01T00:00:01.000000Z",
    "1970-01-01T00:00:01.000001Z",
    "1970-01-01T00:00:01.000002Z",
    "1970-01-01T00:00:01.000003Z",
    "1970-01-01T00:00:01.002000Z",
  ]);
});

Deno.test("monotonic clock: timestamps are ISO strings that Date and PostgreSQL both parse", () => {
  const stamp = formatMicros(Date.parse("2026-11-21T10:00:00.123Z") * 1000 + 456);
  assert.equal(stamp, "2026-11-21T10:00:00.123456Z");
  assert.equal(new Date(stamp).toISOString(), "2026-11-21T10:00:00.123Z");
});
