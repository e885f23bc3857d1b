import assert from "node:assert/strict";
import { clockTicksPerSecond, readCoreTicks, readProcessCpuTicks, readProcessRssKb } from "./proc_stats.ts";

Deno.test("this process's CPU ticks grow with work and its RSS is read", () => {
  const before = readProcessCpuTicks(Deno.pid);
  // Busy for a fixed amount of work (not a time): enough for several 10 ms ticks on any machine.
  let x = 0;
  for (let i = 0; i < 1e8; i++) x = (x + i) % 1_000_003;
  assert.ok(x >= 0);
  assert.ok(readProcessCpuTicks(Deno.pid) > before);
  assert.ok(readProcessRssKb(Deno.pid) > 1000);
});

Deno.test("core ticks list every core with busy not above total", async () => {
  const cores = readCoreTicks();
  assert.ok(cores.length >= 1);
  for (const core of cores) assert.ok(core.busy <= core.total && core.total > 0);
  assert.ok((await clockTicksPerSecond()) > 0);
});
