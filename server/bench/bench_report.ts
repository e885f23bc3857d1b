/**
 * The bench's result file and its markdown table: the runs at the main N, the stepped search for the
 * largest N each target carries, and issue 7's targets checked against the numbers.
 *
 * @module
 */
import type { MachineInfo, SourceInfo } from "./machine.ts";
import type { LoadgenRuntime, RunResult } from "./measure_run.ts";
import { targetDescriptions, type TargetName } from "./targets.ts";

/** The options a bench ran with, as recorded in its result. */
export interface BenchSettings {
  sessions: number;
  seconds: number;
  targets: TargetName[];
  maxSearch: number;
  searchSeconds: number;
  p99BoundMs: number;
  loadgen: LoadgenRuntime;
  pinned: boolean;
  relayCpu: string;
  loadCpu: string;
  frameBytes: number;
  relayEnv: Record<string, string>;
}

/** One step of the search for the largest N. */
export interface SearchStep {
  sessions: number;
  pass: boolean;
  /** Why the step failed, or "ok". */
  verdict: string;
  rttP99Ms: number;
  framesLost: number;
  relayCoreUtilization: number | null;
  loadCoreUtilization: number;
  /** The relay's RSS at the end of the window, every session open; null for "none". */
  rssLoadedKb: number | null;
  /** Sessions that failed, by reason (see `LoadResult.failures`). */
  failures: Record<string, number>;
}

/** The search for one target. */
export interface SearchResult {
  tried: SearchStep[];
  /** The largest N that passed; null when even the first failed. */
  largestPassing: number | null;
  /** True when the search stopped at its ceiling (`--max-search`) without failing. */
  hitCeiling: boolean;
  /** True when the load core was saturated at the step that failed: the limit is the bench's, not the relay's. */
  loadBound: boolean;
  /** Least-squares slope of loaded RSS over sessions across the steps (KiB a session); null with < 2 steps. */
  rssSlopeKbPerSession: number | null;
  /** True when the search stopped because the bench's time budget was spent, not because a step failed. */
  stoppedByTimeBudget: boolean;
}

/** One issue-7 target, checked. */
export interface TargetCheck {
  target: string;
  met: boolean | null;
  detail: string;
}

/** Everything one bench run wrote. */
export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  source: SourceInfo;
  settings: BenchSettings;
  runs: RunResult[];
  search: Partial<Record<TargetName, SearchResult>>;
  checks: TargetCheck[];
}

/** A run passes when every session connected and stayed, nothing was lost or misrouted, and p99 is within bound. */
export function judgeRun(run: RunResult, p99BoundMs: number): { pass: boolean; verdict: string } {
  const { load } = run;
  // Failures first: they say why a session is missing (e.g. no_session_created), the count does not.
  const failed = Object.entries(load.failures).map(([why, n]) => `${n} ${why}`).join(", ");
  if (failed) return { pass: false, verdict: `sessions failed: ${failed}` };
  if (load.connected < load.sessions) {
    return { pass: false, verdict: `${load.sessions - load.connected} sessions did not connect` };
  }
  // The naive pipe drops what arrives before its upstream opens by design (reported in the loss column);
  // its capacity is judged on the frames it lost after that, so it stays comparable.
  const lost = run.target === "naive" ? load.framesLost - load.earlyFramesLost : load.framesLost;
  if (lost > 0) return { pass: false, verdict: `${lost} frames lost` };
  if (load.duplicates > 0 || load.misrouted > 0) {
    return { pass: false, verdict: `${load.duplicates} duplicated, ${load.misrouted} misrouted frames` };
  }
  if (!(load.rttMs.p99 <= p99BoundMs)) {
    return {
      pass: false,
      verdict: `RTT p99 ${load.rttMs.p99.toFixed(2)} ms over the ${p99BoundMs} ms bound`,
    };
  }
  return { pass: true, verdict: "ok" };
}

/** A search step from a run. */
export function searchStep(run: RunResult, p99BoundMs: number): SearchStep {
  const { pass, verdict } = judgeRun(run, p99BoundMs);
  return {
    sessions: run.sessions,
    pass,
    verdict,
    rttP99Ms: run.load.rttMs.p99,
    framesLost: run.load.framesLost,
    relayCoreUtilization: run.relay?.coreUtilization ?? null,
    loadCoreUtilization: run.loadCore.total,
    rssLoadedKb: run.relay?.rssLoadedKb ?? null,
    failures: run.load.failures,
  };
}

/** Least-squares slope of RSS over sessions across `steps`: memory per added session, free of the baseline. */
export function rssSlope(steps: SearchStep[]): number | null {
  const points = steps.filter((step) => step.rssLoadedKb !== null);
  if (new Set(points.map((p) => p.sessions)).size < 2) return null;
  const meanX = points.reduce((sum, p) => sum + p.sessions, 0) / points.length;
  const meanY = points.reduce((sum, p) => sum + p.rssLoadedKb!, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const p of points) {
    covariance += (p.sessions - meanX) * (p.rssLoadedKb! - meanY);
    variance += (p.sessions - meanX) ** 2;
  }
  return covariance / variance;
}

const relayTargets: TargetName[] = ["deno", "node"];

/** Other work took more than this share of a pinned core during the window: the row is marked. */
export const disturbedShare = 0.15;

/** True when other work used more than {@link disturbedShare} of a pinned core during the run's window. */
export function disturbed(run: RunResult): boolean {
  return Math.max(run.interference.relayCore, run.interference.loadCore) > disturbedShare;
}

/** Sessions that streamed without ever receiving `session.created` (dropped on the way to the client). */
function missingSessionCreated(run: RunResult): number {
  return run.load.failures["no_session_created"] ?? 0;
}

/**
 * Checks issue 7's targets against the main runs (null: not measured in this run); losses found by the
 * capacity search (at larger N) count against "0 frames lost" too.
 */
export function checkTargets(runs: RunResult[], search: BenchReport["search"] = {}): TargetCheck[] {
  const byTarget = new Map(runs.map((run) => [run.target, run]));
  const none = byTarget.get("none");
  const naive = byTarget.get("naive");
  const relays = relayTargets.map((name) => byTarget.get(name)).filter((run): run is RunResult => !!run);
  const checks: TargetCheck[] = [];
  const each = (f: (run: RunResult) => string) => relays.map((run) => `${run.target}: ${f(run)}`).join("; ");
  if (relays.length === 0) return checks;
  // Search steps after the main run (which is the search's first step) where a relay lost something.
  const searchLosses = (run: RunResult) =>
    (search[run.target]?.tried.slice(1) ?? []).filter((step) =>
      step.framesLost > 0 || (step.failures["no_session_created"] ?? 0) > 0
    );
  const describeSearchLosses = (run: RunResult) =>
    searchLosses(run).map((step) =>
      `; at ${step.sessions} sessions: ${step.framesLost} frames lost, ` +
      `${step.failures["no_session_created"] ?? 0} sessions never received session.created`
    ).join("");
  checks.push({
    target: "0 frames lost",
    met: relays.every((run) =>
      run.load.framesLost === 0 && missingSessionCreated(run) === 0 && searchLosses(run).length === 0
    ),
    detail: each((run) =>
      `${run.load.framesLost} of ${run.load.framesSent} audio frames, ${run.load.earlyFramesLost} of the ` +
      `${run.load.earlyFramesSent} sent before session.created` +
      (missingSessionCreated(run)
        ? `; ${missingSessionCreated(run)} sessions never received session.created`
        : "") +
      describeSearchLosses(run)
    ) + (naive ? `; naive pipe: ${naive.load.framesLost} lost` : ""),
  });
  checks.push({
    target: "≤ 20 µs relay CPU per relayed round-trip frame (> 1000 sessions per core)",
    met: relays.every((run) => (run.relay?.cpuUsPerFrame ?? Infinity) <= 20),
    detail: each((run) =>
      `${fmt(run.relay?.cpuUsPerFrame, 1)} µs, ~${run.relay?.projectedSessionsPerCore} sessions/core`
    ),
  });
  if (!none) {
    checks.push({
      target: "added RTT and connect time over no relay",
      met: null,
      detail: "target `none` not run",
    });
    return checks;
  }
  const addedP50 = (run: RunResult) => run.load.rttMs.p50 - none.load.rttMs.p50;
  const addedP99 = (run: RunResult) => run.load.rttMs.p99 - none.load.rttMs.p99;
  checks.push({
    target: `added RTT ≤ 0.3 ms p50 and ≤ 1 ms p99 over no relay (at ${none.sessions} sessions)`,
    met: relays.every((run) => addedP50(run) <= 0.3 && addedP99(run) <= 1),
    detail: each((run) => `${signed(addedP50(run))} ms p50, ${signed(addedP99(run))} ms p99`),
  });
  const addedIdle = (run: RunResult) => run.load.idleConnectMs.p50 - none.load.idleConnectMs.p50;
  const addedRamp = (run: RunResult) => run.load.connectMs.p50 - none.load.connectMs.p50;
  checks.push({
    target: "connect adds ≤ 5 ms over no relay (p50, one connection at a time)",
    met: relays.every((run) => addedIdle(run) <= 5),
    detail: each((run) =>
      `${signed(addedIdle(run))} ms idle, ${signed(addedRamp(run))} ms during the staggered start ` +
      `(${
        fmt(run.relay?.cpuUsPerConnect ? run.relay.cpuUsPerConnect / 1000 : NaN, 2)
      } ms relay CPU per connect)`
    ),
  });
  return checks;
}

function fmt(value: number | undefined | null, digits: number): string {
  return value === undefined || value === null || Number.isNaN(value) ? "-" : value.toFixed(digits);
}

function signed(value: number): string {
  return `${value >= 0 ? "+" : ""}${fmt(value, 2)}`;
}

function rssCell(estimate: number, slope: number | null | undefined): string {
  // Garbage collection and the embedded database's own growth move RSS by more than some runs' sessions
  // hold: a negative estimate says nothing, so it is shown as such.
  const main = estimate > 0 ? `${fmt(estimate, 0)} KiB` : "n/a (GC)";
  if (slope === null || slope === undefined) return main;
  return `${main} (slope ${slope > 0 ? `${fmt(slope, 0)} KiB` : "n/a"})`;
}

function searchCell(search: SearchResult | undefined): string {
  if (!search) return "-";
  const tried = search.tried.map((step) => `${step.sessions}${step.pass ? "✓" : "✗"}`).join(" ");
  const atLeast = search.hitCeiling || search.stoppedByTimeBudget;
  const largest = search.largestPassing === null ? "none" : `${atLeast ? "≥ " : ""}${search.largestPassing}`;
  return `${largest}${search.loadBound ? " (load-bound)" : ""}: ${tried}`;
}

/** The markdown report: machine and workload, two tables (latency and loss; cost and capacity), notes, targets. */
export function renderMarkdown(report: BenchReport): string {
  const { machine, settings } = report;
  const none = report.runs.find((run) => run.target === "none");
  const name = (run: RunResult) => `${run.target}${disturbed(run) ? " †" : ""}`;
  const versusNone = (run: RunResult, value: (r: RunResult) => number) =>
    none && run !== none ? `${signed(value(run) - value(none))} ms` : "-";
  const lines: string[] = [];
  lines.push(`### Relay benchmark, ${report.startedAt.slice(0, 16).replace("T", " ")} UTC`);
  lines.push("");
  lines.push(
    `Machine: ${machine.cpuModel}, nproc ${machine.nproc}, Linux ${machine.kernel}; Deno ${machine.deno}, ` +
      `Node ${machine.node}; load average ${machine.loadAverageAtStart} at start. Code: ${report.source.commit}` +
      (report.source.uncommittedFiles ? ` plus ${report.source.uncommittedFiles} uncommitted files.` : "."),
  );
  lines.push(
    `Workload: ${settings.sessions} sessions, ${settings.seconds} s steady window each, 24 kHz PCM16 in 20 ms frames ` +
      `(50/s, ${settings.frameBytes}-byte \`input_audio_buffer.append\`), echoed by the simulator. ` +
      (settings.pinned
        ? `Relay pinned to core ${settings.relayCpu}; load generator (${settings.loadgen} + \`ws\`) and echo ` +
          `upstream on core ${settings.loadCpu}.`
        : "Not pinned (taskset missing or fewer than 2 cores): numbers are indicative only.") +
      (Object.keys(settings.relayEnv).length
        ? ` Relay environment added: ${
          Object.entries(settings.relayEnv).map(([k, v]) => `\`${k}=${v}\``).join(", ")
        }.`
        : ""),
  );
  lines.push("");
  lines.push(
    "| target | RTT p50 | RTT p99 | added p50 | added p99 | frames lost / sent | early lost / sent | connect p50 idle | added | connect p50 / p99 in ramp |",
  );
  lines.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const run of report.runs) {
    const { load } = run;
    lines.push(
      `| ${name(run)} | ${fmt(load.rttMs.p50, 2)} ms | ${fmt(load.rttMs.p99, 2)} ms | ` +
        `${versusNone(run, (r) => r.load.rttMs.p50)} | ${versusNone(run, (r) => r.load.rttMs.p99)} | ` +
        `${load.framesLost} / ${load.framesSent} | ${load.earlyFramesLost} / ${load.earlyFramesSent} | ` +
        `${fmt(load.idleConnectMs.p50, 2)} ms | ${versusNone(run, (r) => r.load.idleConnectMs.p50)} | ` +
        `${fmt(load.connectMs.p50, 2)} / ${fmt(load.connectMs.p99, 2)} ms |`,
    );
  }
  lines.push("");
  lines.push(
    "| target | relay CPU / frame | sessions / core (projected) | relay core busy | CPU / connect | RSS idle → loaded | RSS / session | largest N |",
  );
  lines.push("|---|---|---|---|---|---|---|---|");
  for (const run of report.runs) {
    const { relay } = run;
    const search = searchCell(report.search[run.target]);
    if (!relay) {
      lines.push(`| ${name(run)} | - | - | - | - | - | - | ${search} |`);
      continue;
    }
    lines.push(
      `| ${name(run)} | ${fmt(relay.cpuUsPerFrame, 1)} µs | ${relay.projectedSessionsPerCore} | ` +
        `${fmt(relay.coreUtilization * 100, 0)} % | ${fmt(relay.cpuUsPerConnect / 1000, 2)} ms | ` +
        `${fmt(relay.rssIdleKb / 1024, 0)} → ${fmt(relay.rssLoadedKb / 1024, 0)} MiB | ` +
        `${rssCell(relay.rssPerSessionKb, report.search[run.target]?.rssSlopeKbPerSession)} | ${search} |`,
    );
  }
  lines.push("");
  lines.push(
    "Targets: " + report.runs.map((run) => `\`${run.target}\` ${targetDescriptions[run.target]}`).join("; ") +
      ". " +
      "RTT: frames sent inside the steady window. Early: frames sent before the session's `session.created` (a " +
      "relay's upstream may not be open yet). Connect: dial to `session.created`, one connection at a time on an " +
      "idle relay (idle), and during the staggered start with the other sessions streaming (ramp). CPU: the relay " +
      "process's utime + stime over the window divided by the frames echoed in it; projected sessions = 1 core / " +
      "(CPU per frame × 50 frames/s). RSS / session: (loaded − idle) / sessions; slope: across the search steps.",
  );
  if (report.runs.some(disturbed)) {
    lines.push("");
    lines.push(
      `† other work used more than ${
        disturbedShare * 100
      } % of a pinned core during this row's window (shared ` +
        "machine); the bench measured it again while its retry budget lasted and kept the least disturbed run.",
    );
  }
  lines.push("");
  lines.push(
    "Load side (share of a core during the window; interference = busy time on the relay / load core not " +
      "used by the bench's processes): " +
      report.runs.map((run) =>
        `${run.target}: load generator ${fmt(run.loadCore.loadgen * 100, 0)} %, upstream ` +
        `${fmt(run.loadCore.upstream * 100, 0)} %, interference ${
          fmt(run.interference.relayCore * 100, 0)
        } / ` +
        `${fmt(run.interference.loadCore * 100, 0)} %, send lag p99 ${fmt(run.load.sendLagMs.p99, 2)} ms`
      ).join("; ") + ".",
  );
  if (settings.maxSearch > 0) {
    lines.push("");
    lines.push(
      `Largest N: steps up to ${settings.maxSearch} sessions (${settings.searchSeconds} s windows); a step passes ` +
        `with every session connected, 0 frames lost (for the naive pipe: none after its upstream opened) and RTT ` +
        `p99 ≤ ${settings.p99BoundMs} ms; the search stops at ` +
        "the first failure (✗) or when the bench's time budget is spent (≥). load-bound: the load core (load " +
        "generator + upstream) was saturated at the failing step, so the limit is the bench's, not the relay's; " +
        "the projected sessions/core column extrapolates from CPU per frame instead.",
    );
  }
  if (report.checks.length) {
    lines.push("");
    lines.push("Issue 7 targets:");
    lines.push("");
    for (const check of report.checks) {
      const mark = check.met === null ? "not measured" : check.met ? "met" : "NOT met";
      lines.push(`- ${check.target}: **${mark}** (${check.detail})`);
    }
  }
  return lines.join("\n") + "\n";
}
