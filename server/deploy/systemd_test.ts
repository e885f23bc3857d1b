/**
 * The systemd units (`server/deploy/systemd/`). systemd is not PID 1 here (nor in CI), so: the units
 * pass `systemd-analyze verify` (every key known, every value parsed, the binary executable), stop
 * with SIGTERM with more time than the drain takes, and keep their hardening; and the templated
 * instance is run the way systemd would run it (its environment, its ExecStartPre, its ExecStart with
 * %i and %H expanded) and drains to exit 0 on SIGTERM. Not covered: the sandboxing options in effect
 * (they need systemd to apply them) and the service user.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../shared/config.ts";
import { launchRelay, splitCommandLine } from "./testing/launched_relay.ts";
import { freePort } from "./testing/nginx_process.ts";

const root = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const unitDir = fileURLToPath(new URL("./systemd/", import.meta.url));
const appDir = "/opt/realtime-voice/app";

/** A unit's `[Service]` settings, each key with every value it is given, in order. */
function serviceSettings(unit: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = "";
  for (const raw of unit.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("[")) {
      section = line;
      continue;
    }
    if (section !== "[Service]") continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

const one = (settings: Map<string, string[]>, key: string) => {
  const values = settings.get(key) ?? [];
  assert.equal(values.length, 1, `${key}= is set once`);
  return values[0];
};

/** Seconds SIGTERM takes at most: DRAIN_SECONDS, then (server/shutdown.ts) 3 s for the forced closes, 15 s flush, 2 s to stop listening. */
function drainBudgetSeconds(drainSeconds: number): number {
  return drainSeconds + 3 + 15 + 2;
}

const units = {
  single: await readFile(join(unitDir, "realtime-voice.service"), "utf8"),
  template: await readFile(join(unitDir, "realtime-voice@.service"), "utf8"),
};

Deno.test("the units pass systemd-analyze verify", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-units-" });
  try {
    // Pointed at this checkout, where node_modules/.bin/deno exists (verify checks the binary).
    await writeFile(join(dir, "realtime-voice.service"), units.single.replaceAll(appDir, root));
    await writeFile(join(dir, "realtime-voice@8081.service"), units.template.replaceAll(appDir, root));
    for (const unit of ["realtime-voice.service", "realtime-voice@8081.service"]) {
      const result = await new Deno.Command("systemd-analyze", {
        args: ["verify", "--man=no", join(dir, unit)],
        cwd: dir,
      })
        .output();
      const said = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
      assert.equal(result.code, 0, said);
      assert.equal(said.trim(), "", `${unit}: systemd-analyze verify found problems`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the units stop by SIGTERM with time to drain, restart, run the README's task unprivileged", async () => {
  const deno = JSON.parse(await readFile(join(root, "deno.json"), "utf8")) as {
    tasks: Record<string, string>;
  };
  const defaults = loadConfig({});
  for (const [name, text] of Object.entries(units)) {
    const s = serviceSettings(text);
    assert.equal(one(s, "KillSignal"), "SIGTERM", name);
    assert.equal(one(s, "KillMode"), "mixed", name);
    assert.equal(one(s, "Restart"), "always", name);
    const timeout = Number(one(s, "TimeoutStopSec"));
    assert.ok(
      timeout > drainBudgetSeconds(defaults.guard.drainSeconds),
      `${name}: TimeoutStopSec=${timeout} must outlast the drain (${
        drainBudgetSeconds(defaults.guard.drainSeconds)
      } s)`,
    );
    assert.equal(one(s, "User"), "realtime-voice", name);
    assert.equal(one(s, "EnvironmentFile"), "/etc/realtime-voice.env", name);
    assert.equal(one(s, "WorkingDirectory"), appDir, name);
    assert.equal(one(s, "NoNewPrivileges"), "yes", name);
    assert.equal(one(s, "ProtectSystem"), "strict", name);
    assert.match(one(s, "ReadWritePaths"), /^-?\/var\/lib\/realtime-voice/, name);
    assert.ok(!s.has("MemoryDenyWriteExecute"), `${name}: V8's JIT needs writable code pages`);
    // The README's `deno task start`, run by the Deno binary itself (npx would swallow SIGTERM).
    assert.ok(
      one(s, "ExecStart").endsWith(`${appDir}/${deno.tasks.start}`),
      `${name}: ExecStart runs ${deno.tasks.start}`,
    );
  }
});

Deno.test({
  name:
    "a templated instance, run as systemd would: its own port and name, a shared database required, drains to 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = serviceSettings(units.template);
    const state = await Deno.makeTempDir({ prefix: "relay-unit-state-" });
    const port = await freePort();
    const host = hostname();
    // systemd's unescaping and specifiers; the unit's fixed paths moved into this checkout and a temp dir.
    const expand = (line: string) =>
      line.replaceAll("$$", "$").replaceAll("%i", String(port)).replaceAll("%H", host).replaceAll(
        appDir,
        root,
      )
        .replaceAll("/var/lib/realtime-voice", state);
    // Environment= first, then the EnvironmentFile over it, as systemd does. The shared file tries to
    // set PORT and HOST too: the instance's own must win.
    const environment = (file: Record<string, string>) => {
      const env: Record<string, string> = {};
      for (const line of s.get("Environment") ?? []) {
        const [key, ...value] = expand(line).split("=");
        env[key] = value.join("=");
      }
      return { ...env, ...file };
    };
    const sharedFile = { PORT: "1", HOST: "0.0.0.0", RELAY_INSTANCE_ID: "from-the-file", LOG_LEVEL: "info" };
    const pre = splitCommandLine(expand(one(s, "ExecStartPre")));
    const start = splitCommandLine(expand(one(s, "ExecStart")));
    try {
      // Without a shared database the instance refuses to start, saying what to set.
      const refused = await new Deno.Command(pre[0], {
        args: pre.slice(1),
        env: environment(sharedFile),
        clearEnv: true,
      })
        .output();
      assert.notEqual(refused.code, 0);
      assert.match(
        new TextDecoder().decode(refused.stderr),
        new RegExp(`realtime-voice@${port}: .*DATABASE_URL`),
      );
      const file = { ...sharedFile, RELAY_STORAGE: "none" };
      const allowed = await new Deno.Command(pre[0], {
        args: pre.slice(1),
        env: environment(file),
        clearEnv: true,
      }).output();
      assert.equal(allowed.code, 0, new TextDecoder().decode(allowed.stderr));

      const relay = await launchRelay(start, expand(one(s, "WorkingDirectory")), environment(file));
      try {
        assert.equal(relay.port, port, "listens on the instance's port, not the shared file's");
        const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
        assert.equal(health.instance, `${host}-${port}`);
        assert.equal(health.status, "ok");
        relay.signal(one(s, "KillSignal") as Deno.Signal);
        assert.equal(await relay.exited, 0);
        assert.ok(relay.logs.some((l) => l.includes('"event":"stopped"')));
        assert.ok(
          Deno.statSync(join(state, String(port), "data")).isDirectory,
          "its data directory is its own",
        );
      } finally {
        relay.kill();
        await relay.exited;
      }
    } finally {
      await Deno.remove(state, { recursive: true });
    }
  },
});
