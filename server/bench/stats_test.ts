import assert from "node:assert/strict";
import { percentile, summarize } from "./stats.ts";

Deno.test("percentile is nearest-rank over a sorted sample", () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile([5], 99), 5);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("summarize sorts numerically and does not touch its input", () => {
  const values = [10, 9, 100, 1, 2];
  const summary = summarize(values);
  assert.deepEqual(values, [10, 9, 100, 1, 2]);
  assert.deepEqual(summary, { count: 5, mean: 24.4, p50: 9, p90: 100, p99: 100, max: 100 });
  assert.equal(summarize([]).count, 0);
});
