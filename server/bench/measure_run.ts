/**
 * One measurement: a fresh echo upstream and a fresh target, the load generator against it, and the
 * relay's CPU time and memory sampled at the edges of the steady window.
 *
 * @module
 */
import { type LoadPlan, type LoadResult, probeBudgetMs } from "./load_generator.ts";
import type { Child, ProcessGroup } from "./processes.ts";
import { type CoreTicks, readCoreTicks, readProcessCpuTicks, readProcessRssKb } from "./proc_stats.ts";
import { startTarget, type TargetContext, type TargetName } from "./targets.ts";

/** Which runtime runs the load generator. */
export type LoadgenRuntime = "node" | "deno";

/** Fixed for a whole bench run. */
export interface RunEnvironment {
  group: ProcessGroup;
  /** `taskset -c` lists: the relay's core, and the load generator's and upstream's core. */
  relayCpu: string;
  loadCpu: string;
  loadgen: LoadgenRuntime;
  ticksPerSecond: number;
  apiKey: string;
  supabaseUrl: string;
  jwtSecret: string;
  /** One user token per session (reused round-robin when fewer). */
  tokens: string[];
  /** Scratch directory (plans, relay data). */
  workDir: string;
  /** Extra relay environment (`--relay-env`). */
  relayEnv: Record<string, string>;
}

/** One run's shape. */
export interface RunSpec {
  target: TargetName;
  sessions: number;
  seconds: number;
  warmupMs: number;
  graceMs: number;
  /** One-at-a-time connections before the load (idle connect latency and CPU; warms the relay up). */
  probeConnects: number;
}

/** The relay process's cost over the steady window. */
export interface RelayCost {
  /** CPU (user + system, all threads) per round-trip frame relayed inside the window. */
  cpuUsPerFrame: number;
  /** Share of its core the relay used during the window (1 = the whole core). */
  coreUtilization: number;
  /** Sessions one core could carry at this cost: 1e6 µs / (µs per frame × 50 frames a second). */
  projectedSessionsPerCore: number;
  /** CPU per connection during the one-at-a-time probe: upgrade, token check, upstream dial, first event. */
  cpuUsPerConnect: number;
  /** RSS after the connect probe (warm, no session open). */
  rssIdleKb: number;
  /** RSS at the end of the steady window, every session open. */
  rssLoadedKb: number;
  /** (RSS with every session open − idle RSS) / sessions. */
  rssPerSessionKb: number;
}

/** What one run measured. */
export interface RunResult {
  target: TargetName;
  sessions: number;
  seconds: number;
  load: LoadResult;
  relay: RelayCost | null;
  /** Share of the load core used by the load generator and by the upstream during the window. */
  loadCore: { loadgen: number; upstream: number; total: number };
  /**
   * Busy time on each pinned core not accounted to the bench's own processes, as a share of the
   * window: other work on a shared machine. High values make the run's numbers suspect.
   */
  interference: { relayCore: number; loadCore: number };
  /** How many times this run was measured (again when other work disturbed it); the least disturbed is kept. */
  attempts?: number;
}

interface Sample {
  at: number;
  relay: number;
  loadgen: number;
  upstream: number;
  cores: CoreTicks[];
}

function coreIndex(list: string): number {
  return Number(list.split(/[,-]/)[0]);
}

/** Starts the echo upstream (pinned to the load core); resolves with its process and URL. */
async function startUpstream(env: RunEnvironment): Promise<{ child: Child; url: string }> {
  const child = env.group.spawn({
    name: "echo upstream",
    command: Deno.execPath(),
    args: [
      "run",
      "-A",
      "server/simulator.ts",
      "--mode",
      "echo",
      "--max-recorded-events",
      "0",
      "--max-recorded-connections",
      "10",
      "--key",
      env.apiKey,
    ],
    cpu: env.loadCpu,
  });
  try {
    const line = await child.waitForLine((l) => l.startsWith('{"url"'), 30_000);
    return { child, url: (JSON.parse(line) as { url: string }).url };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Runs `spec` once and returns its measurements. */
export async function measureRun(env: RunEnvironment, spec: RunSpec): Promise<RunResult> {
  const upstream = await startUpstream(env);
  try {
    const context: TargetContext = {
      group: env.group,
      upstreamUrl: upstream.url,
      apiKey: env.apiKey,
      supabaseUrl: env.supabaseUrl,
      jwtSecret: env.jwtSecret,
      maxConnections: spec.sessions * 2 + 100,
      relayCpu: env.relayCpu,
      workDir: env.workDir,
      relayEnv: env.relayEnv,
    };
    const target = await startTarget(spec.target, context);
    try {
      return await loadTarget(env, spec, upstream.child, target.process, target.url, target.protocolsFor);
    } finally {
      await target.stop();
    }
  } finally {
    await upstream.child.stop();
  }
}

async function loadTarget(
  env: RunEnvironment,
  spec: RunSpec,
  upstream: Child,
  relay: Child | undefined,
  url: string,
  protocolsFor: (token: string) => string[],
): Promise<RunResult> {
  const plan: LoadPlan = {
    url,
    protocols: env.tokens.slice(0, spec.sessions).map(protocolsFor),
    sessions: spec.sessions,
    seconds: spec.seconds,
    rampMs: Math.min(5000, Math.max(100, spec.sessions * 5)),
    warmupMs: spec.warmupMs,
    graceMs: spec.graceMs,
    connectTimeoutMs: 10_000,
    probeConnects: spec.probeConnects,
  };
  const planPath = `${env.workDir}/plan-${spec.target}-${spec.sessions}.json`;
  await Deno.writeTextFile(planPath, JSON.stringify(plan));
  const loadgen = env.group.spawn({
    name: `load generator (${env.loadgen})`,
    command: env.loadgen === "node" ? "node" : Deno.execPath(),
    args: env.loadgen === "node"
      ? ["--import", "tsx", "server/bench/load_generator_process.ts", planPath]
      : ["run", "-A", "server/bench/load_generator_process.ts", planPath],
    cpu: env.loadCpu,
  });
  const sample = (): Sample => ({
    at: performance.now(),
    relay: relay ? readProcessCpuTicks(relay.pid) : 0,
    loadgen: readProcessCpuTicks(loadgen.pid),
    upstream: readProcessCpuTicks(upstream.pid),
    cores: readCoreTicks(),
  });
  let probeStart: Sample | undefined;
  let probeEnd: Sample | undefined;
  let start: Sample | undefined;
  let end: Sample | undefined;
  let rssIdleKb = 0;
  let rssLoadedKb = 0;
  loadgen.onLine((line) => {
    try {
      if (line === '{"event":"probe_start"}') probeStart = sample();
      else if (line === '{"event":"probe_end"}') {
        probeEnd = sample();
        if (relay) rssIdleKb = readProcessRssKb(relay.pid);
      } else if (line === '{"event":"steady_start"}') start = sample();
      else if (line.startsWith('{"event":"steady_end"')) {
        end = sample();
        if (relay) rssLoadedKb = readProcessRssKb(relay.pid);
      }
    } catch {
      // A process that exited has no /proc entry; the checks after the run report it.
    }
  });
  const deadlineMs = probeBudgetMs + plan.rampMs + plan.connectTimeoutMs + plan.warmupMs +
    plan.seconds * 1000 + plan.graceMs +
    30_000;
  let resultLine: string;
  try {
    resultLine = await loadgen.waitForLine((l) => l.startsWith('{"event":"result"'), deadlineMs);
  } finally {
    await loadgen.stop();
  }
  if (relay?.hasExited) throw relay.failure("exited during the run");
  if (!start || !end || !probeStart || !probeEnd) {
    throw loadgen.failure("reported no probe or no steady window");
  }
  const { event: _event, ...load } = JSON.parse(resultLine) as LoadResult & { event: string };
  const windowTicks = ((end.at - start.at) / 1000) * env.ticksPerSecond;
  const share = (ticks: number) => ticks / windowTicks;
  const relayTicks = end.relay - start.relay;
  const loadgenTicks = end.loadgen - start.loadgen;
  const upstreamTicks = end.upstream - start.upstream;
  const coreBusy = (index: number) => (end!.cores[index]?.busy ?? 0) - (start!.cores[index]?.busy ?? 0);
  const relayCore = coreIndex(env.relayCpu);
  const loadCore = coreIndex(env.loadCpu);
  let relayCost: RelayCost | null = null;
  if (relay) {
    const cpuUsPerFrame = load.echoedInWindow > 0
      ? (relayTicks * 1e6) / env.ticksPerSecond / load.echoedInWindow
      : NaN;
    relayCost = {
      cpuUsPerFrame,
      coreUtilization: share(relayTicks),
      projectedSessionsPerCore: Math.floor(1e6 / (cpuUsPerFrame * 50)),
      cpuUsPerConnect: load.idleConnectMs.count > 0
        ? ((probeEnd.relay - probeStart.relay) * 1e6) / env.ticksPerSecond / load.idleConnectMs.count
        : NaN,
      rssIdleKb,
      rssLoadedKb,
      rssPerSessionKb: (rssLoadedKb - rssIdleKb) / spec.sessions,
    };
  }
  return {
    target: spec.target,
    sessions: spec.sessions,
    seconds: spec.seconds,
    load,
    relay: relayCost,
    loadCore: {
      loadgen: share(loadgenTicks),
      upstream: share(upstreamTicks),
      total: share(loadgenTicks + upstreamTicks),
    },
    interference: {
      relayCore: Math.max(0, share(coreBusy(relayCore) - relayTicks)),
      loadCore: Math.max(0, share(coreBusy(loadCore) - loadgenTicks - upstreamTicks)),
    },
  };
}
