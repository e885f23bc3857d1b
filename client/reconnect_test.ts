import assert from "node:assert/strict";
import { defaultReconnectPolicy, reconnectDelayMs, shouldReconnect } from "./reconnect.ts";

Deno.test("refusals a retry cannot fix and normal ends are never retried", () => {
  for (const code of [4001, 4003, 4029, 1000, 1002, 1003, 1007, 1009, 1015, 4000, 4999]) {
    assert.equal(shouldReconnect(code), false, String(code));
  }
});

Deno.test("abnormal ends are retried", () => {
  for (const code of [1001, 1005, 1006, 1008, 1011, 1012, 1013, 1014]) {
    assert.equal(shouldReconnect(code), true, String(code));
  }
});

Deno.test("the delay doubles per attempt, is capped, and its jitter stays in the upper half", () => {
  const low = (attempt: number) => reconnectDelayMs(attempt, defaultReconnectPolicy, () => 0);
  const high = (attempt: number) => reconnectDelayMs(attempt, defaultReconnectPolicy, () => 1);
  assert.deepEqual([1, 2, 3, 4].map(high), [500, 1000, 2000, 4000]);
  assert.deepEqual([1, 2, 3, 4].map(low), [250, 500, 1000, 2000]);
  assert.equal(high(10), 15_000);
  assert.equal(low(50), 7_500);
  const policy = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 300 };
  assert.equal(reconnectDelayMs(5, policy, () => 0.5), 225);
});
