import assert from "node:assert/strict";
import { AttemptLimiter, originAllowed } from "./attempt_limiter.ts";

Deno.test("attempts past the bound are refused, per key, and the window slides", () => {
  let now = 0;
  const limiter = new AttemptLimiter(3, () => now);
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.allow("u1")), [true, true, true, false]);
  assert.equal(limiter.allow("u2"), true);
  now = 60_000; // the previous minute still weighs fully at the start of the next
  assert.equal(limiter.allow("u1"), false);
  now = 150_000; // two minutes on: forgotten
  assert.equal(limiter.allow("u1"), true);
});

Deno.test("the number of keys held is bounded", () => {
  const limiter = new AttemptLimiter(10, () => 0, 2);
  assert.equal(limiter.allow("a"), true);
  assert.equal(limiter.allow("b"), true);
  assert.equal(limiter.allow("c"), false);
  assert.equal(limiter.allow("a"), true);
});

Deno.test("origins: no list allows all; a list allows only its members; non-browsers pass", () => {
  assert.equal(originAllowed("https://evil.example", []), true);
  assert.equal(originAllowed("https://app.example", ["https://app.example"]), true);
  assert.equal(originAllowed("https://app.example/", ["https://app.example"]), true);
  assert.equal(originAllowed("https://evil.example", ["https://app.example"]), false);
  assert.equal(originAllowed(undefined, ["https://app.example"]), true);
});
