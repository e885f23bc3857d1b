/**
 * The bench's command line: `deno task bench [--sessions N] [--seconds S] [--targets a,b] [--out DIR]
 * [--quick] [--max-search N] [--search-seconds S] [--p99-bound-ms MS] [--loadgen node|deno]
 * [--relay-cpu C] [--load-cpu C] [--relay-env KEY=VALUE ...] [--retries N]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { LoadgenRuntime } from "./measure_run.ts";
import { type TargetName, targetNames } from "./targets.ts";

/** Everything a bench run is configured by. */
export interface BenchOptions {
  /** Sessions in the main run of every target. */
  sessions: number;
  /** Steady window of the main runs, seconds. */
  seconds: number;
  targets: TargetName[];
  out: string;
  quick: boolean;
  /** Largest N the search for each target's capacity may try; 0 (or ≤ sessions) turns the search off. */
  maxSearch: number;
  /** Steady window of each search step, seconds. */
  searchSeconds: number;
  /** A search step fails when its RTT p99 is above this. */
  p99BoundMs: number;
  loadgen: LoadgenRuntime;
  relayCpu: string;
  loadCpu: string;
  warmupMs: number;
  graceMs: number;
  /** `--relay-env KEY=VALUE` (repeatable): extra environment for the relay processes (e.g. RELAY_STORAGE=none). */
  relayEnv: Record<string, string>;
  /** Re-runs allowed in the whole bench for runs other work on the pinned cores disturbed. */
  retries: number;
}

/** A bad command line; the message names the flag. */
export class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

/** The steps of the capacity search. */
export const searchLadder: readonly number[] = [200, 400, 700, 1000, 1400, 2000, 2800, 4000];

function positive(flag: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new BenchUsageError(`--${flag} expects a ${integer ? "whole " : ""}number >= 0, got "${raw}"`);
  }
  return value;
}

/** Parses `args`; `--quick` changes the defaults (5 sessions, 2 s, none+deno, no search), explicit flags win. */
export function parseBenchArgs(args: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        sessions: { type: "string" },
        seconds: { type: "string" },
        targets: { type: "string" },
        out: { type: "string" },
        quick: { type: "boolean", default: false },
        "max-search": { type: "string" },
        "search-seconds": { type: "string" },
        "p99-bound-ms": { type: "string" },
        loadgen: { type: "string" },
        "relay-cpu": { type: "string" },
        "load-cpu": { type: "string" },
        "relay-env": { type: "string", multiple: true },
        retries: { type: "string" },
      },
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const quick = values.quick;
  const targets = (values.targets ?? (quick ? "none,deno" : targetNames.join(",")))
    .split(",").map((t) => t.trim()).filter(Boolean);
  for (const target of targets) {
    if (!targetNames.includes(target as TargetName)) {
      throw new BenchUsageError(`--targets: unknown target "${target}" (known: ${targetNames.join(", ")})`);
    }
  }
  if (targets.length === 0) throw new BenchUsageError("--targets: name at least one target");
  const loadgen = values.loadgen ?? "node";
  if (loadgen !== "node" && loadgen !== "deno") {
    throw new BenchUsageError(`--loadgen expects node or deno, got "${loadgen}"`);
  }
  const sessions = positive("sessions", values.sessions, quick ? 5 : 200, true);
  if (sessions < 1) throw new BenchUsageError("--sessions must be at least 1");
  const seconds = positive("seconds", values.seconds, quick ? 2 : 10, false);
  if (seconds <= 0) throw new BenchUsageError("--seconds must be above 0");
  const relayCpu = values["relay-cpu"] ?? "0";
  const loadCpu = values["load-cpu"] ?? "1";
  for (const [flag, list] of [["relay-cpu", relayCpu], ["load-cpu", loadCpu]]) {
    if (!/^\d+([,-]\d+)*$/.test(list)) {
      throw new BenchUsageError(`--${flag} expects a taskset core list like 0 or 0,2, got "${list}"`);
    }
  }
  const relayEnv: Record<string, string> = {};
  for (const pair of values["relay-env"] ?? []) {
    const match = pair.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/);
    if (!match) throw new BenchUsageError(`--relay-env expects KEY=VALUE, got "${pair}"`);
    relayEnv[match[1]] = match[2];
  }
  return {
    sessions,
    seconds,
    targets: [...new Set(targets)] as TargetName[],
    out: values.out ?? ".data/bench",
    quick,
    maxSearch: positive("max-search", values["max-search"], quick ? 0 : 1000, true),
    searchSeconds: positive("search-seconds", values["search-seconds"], 5, false) || 5,
    p99BoundMs: positive("p99-bound-ms", values["p99-bound-ms"], 20, false),
    loadgen,
    relayCpu,
    loadCpu,
    warmupMs: quick ? 300 : 1000,
    graceMs: quick ? 1000 : 2000,
    relayEnv,
    retries: positive("retries", values.retries, quick ? 0 : 6, true),
  };
}
