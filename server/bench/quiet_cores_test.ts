import assert from "node:assert/strict";
import { waitForQuietCores } from "./quiet_cores.ts";

Deno.test("waitForQuietCores returns within its bound and reports what it saw", async () => {
  // A threshold above 1 is met by any sample: one window, quiet.
  const met = await waitForQuietCores([0], { threshold: 1.1, sampleMs: 50, maxWaitMs: 1000 });
  assert.equal(met.quiet, true);
  assert.ok(met.lastBusy >= 0 && met.lastBusy <= 1);
  // A threshold of 0 can never be met: it gives up at maxWaitMs, not quiet.
  const never = await waitForQuietCores([0], { threshold: 0, sampleMs: 50, maxWaitMs: 120 });
  assert.equal(never.quiet, false);
  assert.ok(never.waitedMs >= 120);
});
