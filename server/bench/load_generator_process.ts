/**
 * The load generator's process entry, on Node or on Deno (`ws` client on both):
 *
 *   node --import tsx server/bench/load_generator_process.ts <plan.json>
 *   deno run -A server/bench/load_generator_process.ts <plan.json>
 *
 * Runs the plan (see {@link LoadPlan}), prints JSON lines (phases, then the result) and exits; a hard
 * deadline ends it whatever happens.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { emit, type LoadPlan, probeBudgetMs, runLoad } from "./load_generator.ts";

const planPath = process.argv[2];
if (!planPath) {
  console.error("usage: load_generator_process.ts <plan.json>");
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planPath, "utf8")) as LoadPlan;
// The last resort: whatever happens, the process ends.
const hardDeadlineMs = probeBudgetMs + 5000 + plan.rampMs + plan.connectTimeoutMs + plan.warmupMs +
  plan.seconds * 1000 + plan.graceMs +
  15_000;
setTimeout(() => {
  console.error(`load_generator: still running after ${hardDeadlineMs} ms, exiting`);
  process.exit(3);
}, hardDeadlineMs).unref();
const result = await runLoad(plan);
emit({ event: "result", ...result });
process.exit(0);
