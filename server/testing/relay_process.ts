/**
 * Test support: runs a relay deployment as a real child process (Deno server, Node fallback, edge
 * entry on the current Deno or on Deno 2.1) and collects its JSON log lines.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { forEachLine } from "./lines.ts";

/** The deployments the contract suite runs against. */
export type RelayKind = "deno" | "node" | "edge" | "edge-deno-2.1";

/** A running relay process. */
export interface RelayProcess {
  kind: RelayKind;
  /** `ws://127.0.0.1:PORT` plus the deployment's path prefix. */
  wsBase: string;
  /** `http://127.0.0.1:PORT` plus the deployment's path prefix. */
  httpBase: string;
  /** Every stdout/stderr line so far. */
  logs: string[];
  /** The relay's process id (for /proc readings). */
  pid: number;
  /** Sends a signal and waits for exit; returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

const root = fileURLToPath(new URL("../../", import.meta.url));

function commandFor(kind: RelayKind): { command: string; args: string[] } {
  switch (kind) {
    case "deno":
      return { command: Deno.execPath(), args: ["run", "-A", "server/main.ts"] };
    case "node":
      return { command: "node", args: ["--import", "tsx", "server/node.ts"] };
    case "edge":
      return { command: Deno.execPath(), args: ["run", "-A", "supabase/functions/realtime-voice/index.ts"] };
    case "edge-deno-2.1":
      return { command: edgeDenoBinary(), args: ["run", "-A", "supabase/functions/realtime-voice/index.ts"] };
  }
}

/**
 * The Deno 2.1 binary from the `deno-edge` npm alias. Run directly, not through its `bin.cjs` wrapper,
 * so that signals reach the relay itself.
 */
export function edgeDenoBinary(): string {
  const candidates = [`${root}node_modules/deno-edge/deno`];
  try {
    for (const entry of Deno.readDirSync(`${root}node_modules/deno-edge/node_modules/@deno`)) {
      candidates.push(`${root}node_modules/deno-edge/node_modules/@deno/${entry.name}/deno`);
    }
  } catch { /* the postinstall placed the binary at the first candidate */ }
  const found = candidates.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
  if (!found) throw new Error("Deno 2.1 binary not found under node_modules/deno-edge: run `npm ci`");
  return found;
}

/** Starts a relay of `kind` on a free port with `env` (merged over a minimal base) and waits until it listens. */
export async function startRelayProcess(kind: RelayKind, env: Record<string, string>): Promise<RelayProcess> {
  const { command, args } = commandFor(kind);
  const child = new Deno.Command(command, {
    args,
    cwd: root,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      DENO_TLS_CA_STORE: "system",
      DENO_NO_UPDATE_CHECK: "1",
      PORT: "0",
      HOST: "127.0.0.1",
      ...env,
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  let resolvePort!: (port: number) => void;
  let rejectPort!: (error: Error) => void;
  const portKnown = new Promise<number>((resolve, reject) => {
    resolvePort = resolve;
    rejectPort = reject;
  });
  const onLine = (line: string) => {
    logs.push(line);
    if (Deno.env.get("RELAY_TEST_VERBOSE")) console.log(`[${kind}] ${line}`);
    if (line.includes('"event":"listening"')) {
      const record = JSON.parse(line) as { port?: number; url?: string };
      resolvePort(record.port ?? Number(new URL(record.url!).port));
    }
  };
  const pumps = Promise.all([forEachLine(child.stdout, onLine), forEachLine(child.stderr, onLine)]);
  const exited = child.status.then((status) => {
    rejectPort(new Error(`relay ${kind} exited with ${status.code} before listening:\n${logs.join("\n")}`));
    return status.code;
  });
  const timeout = setTimeout(
    () => rejectPort(new Error(`relay ${kind} did not listen within 30 s:\n${logs.join("\n")}`)),
    30_000,
  );
  let port: number;
  try {
    port = await portKnown;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await exited;
    await pumps;
    throw error;
  } finally {
    clearTimeout(timeout);
  }
  const prefix = kind.startsWith("edge") ? "/realtime-voice" : "";
  return {
    kind,
    wsBase: `ws://127.0.0.1:${port}${prefix}`,
    httpBase: `http://127.0.0.1:${port}${prefix}`,
    logs,
    pid: child.pid,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 10_000);
      const code = await exited;
      clearTimeout(killer);
      await pumps;
      return code;
    },
  };
}
