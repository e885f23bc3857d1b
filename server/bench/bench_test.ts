/**
 * Smoke test of `deno task bench --quick`: the whole bench (echo upstream, Deno relay process, load
 * generator, /proc sampling, report) on 5 sessions for 2 s. Asserts the result's shape and that the relay
 * lost nothing, never timing values.
 */
import assert from "node:assert/strict";
import { repoRoot } from "./processes.ts";

interface QuickReport {
  machine: { nproc: number; cpuModel: string; deno: string; node: string };
  settings: { sessions: number; targets: string[] };
  runs: Array<{
    target: string;
    sessions: number;
    load: {
      connected: number;
      framesSent: number;
      framesEchoed: number;
      framesLost: number;
      earlyFramesSent: number;
      earlyFramesLost: number;
      duplicates: number;
      misrouted: number;
      rttMs: { count: number; p50: number; p99: number };
      connectMs: { count: number };
      idleConnectMs: { count: number };
    };
    relay: { cpuUsPerFrame: number; cpuUsPerConnect: number; rssLoadedKb: number; rssIdleKb: number } | null;
    loadCore: { total: number };
    interference: { relayCore: number; loadCore: number };
  }>;
  checks: Array<{ target: string; met: boolean | null }>;
}

Deno.test("bench --quick measures no relay and the Deno relay and writes JSON and markdown", async () => {
  const out = await Deno.makeTempDir({ prefix: "bench-test-" });
  const controller = new AbortController();
  // Bounded whatever happens: the bench's own deadlines end it far sooner.
  const killer = setTimeout(() => controller.abort(), 120_000);
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "server/bench/main.ts", "--quick", "--out", out],
      cwd: repoRoot,
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, `bench failed:\n${stderr}\n${stdout}`);

    const files = [...Deno.readDirSync(out)].map((entry) => entry.name).sort();
    assert.equal(files.length, 2, `expected one .json and one .md, got ${files.join(", ")}`);
    assert.match(files[0], /^bench-.*\.json$/);
    assert.match(files[1], /^bench-.*\.md$/);
    const report = JSON.parse(await Deno.readTextFile(`${out}/${files[0]}`)) as QuickReport;
    const markdown = await Deno.readTextFile(`${out}/${files[1]}`);

    assert.ok(report.machine.nproc >= 1);
    assert.ok(report.machine.cpuModel.length > 0);
    assert.equal(report.machine.deno, Deno.version.deno);
    assert.deepEqual(report.settings.targets, ["none", "deno"]);
    assert.deepEqual(report.runs.map((run) => run.target), ["none", "deno"]);
    for (const run of report.runs) {
      const { load } = run;
      assert.equal(run.sessions, 5);
      assert.equal(load.connected, 5, `${run.target}: every session connects`);
      assert.ok(load.framesSent > 0);
      assert.equal(load.framesLost, 0, `${run.target}: no frame lost`);
      assert.equal(load.framesEchoed, load.framesSent);
      assert.equal(load.duplicates + load.misrouted, 0);
      // The first frame of each session leaves as its socket opens, before session.created.
      assert.ok(load.earlyFramesSent >= 5, `${run.target}: frames sent before session.created`);
      assert.equal(load.earlyFramesLost, 0);
      assert.ok(load.rttMs.count > 0 && Number.isFinite(load.rttMs.p99));
      assert.equal(load.connectMs.count, 5);
      assert.equal(load.idleConnectMs.count, 5);
      assert.ok(Number.isFinite(run.loadCore.total));
      assert.ok(Number.isFinite(run.interference.relayCore));
    }
    assert.equal(report.runs[0].relay, null, "no relay process for `none`");
    const relay = report.runs[1].relay!;
    assert.ok(Number.isFinite(relay.cpuUsPerFrame) && relay.cpuUsPerFrame >= 0);
    assert.ok(Number.isFinite(relay.cpuUsPerConnect));
    assert.ok(relay.rssIdleKb > 0 && relay.rssLoadedKb > 0);
    assert.deepEqual(report.checks.find((check) => check.target === "0 frames lost")?.met, true);

    assert.match(markdown, /\| none( †)? \|/);
    assert.match(markdown, /\| deno( †)? \|/);
    assert.match(markdown, new RegExp(`nproc ${report.machine.nproc}`));
    assert.match(stdout, /\| deno( †)? \|/, "the table is printed");
  } finally {
    clearTimeout(killer);
    await Deno.remove(out, { recursive: true });
  }
});
