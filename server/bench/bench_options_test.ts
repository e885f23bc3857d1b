import assert from "node:assert/strict";
import { BenchUsageError, parseBenchArgs } from "./bench_options.ts";

Deno.test("defaults: 200 sessions, 10 s, every target, capacity search up to 1000", () => {
  const options = parseBenchArgs([]);
  assert.equal(options.sessions, 200);
  assert.equal(options.seconds, 10);
  assert.deepEqual(options.targets, ["none", "naive", "deno", "deno-builtin", "node"]);
  assert.equal(options.out, ".data/bench");
  assert.equal(options.maxSearch, 1000);
  assert.equal(options.loadgen, "node");
});

Deno.test("--quick shrinks the run and explicit flags still win", () => {
  const quick = parseBenchArgs(["--quick"]);
  assert.deepEqual([quick.sessions, quick.seconds, quick.targets, quick.maxSearch], [
    5,
    2,
    ["none", "deno"],
    0,
  ]);
  const mixed = parseBenchArgs(["--quick", "--sessions", "7", "--targets", "node", "--out", "/tmp/x"]);
  assert.deepEqual([mixed.sessions, mixed.targets, mixed.out], [7, ["node"], "/tmp/x"]);
  const env = parseBenchArgs(["--relay-env", "RELAY_STORAGE=none", "--relay-env", "NODE_OPTIONS=--a=b"]);
  assert.deepEqual(env.relayEnv, { RELAY_STORAGE: "none", NODE_OPTIONS: "--a=b" });
});

Deno.test("bad flags are refused with the flag named", () => {
  assert.throws(() => parseBenchArgs(["--targets", "none,proxy"]), /--targets: unknown target "proxy"/);
  assert.throws(() => parseBenchArgs(["--sessions", "1.5"]), /--sessions expects a whole number/);
  assert.throws(() => parseBenchArgs(["--sessions", "0"]), /--sessions must be at least 1/);
  assert.throws(() => parseBenchArgs(["--loadgen", "bun"]), /--loadgen expects node or deno/);
  assert.throws(() => parseBenchArgs(["--relay-cpu", "all"]), /--relay-cpu/);
  assert.throws(() => parseBenchArgs(["--relay-env", "no-equals"]), /--relay-env expects KEY=VALUE/);
  assert.throws(() => parseBenchArgs(["--nope"]), BenchUsageError);
});
