/**
 * What the load generator connects to, one per benchmark row: no relay (straight to the upstream), the
 * naive `ws` pipe, the Deno server (with `ws` or the built-in upstream dialer) and the Node fallback. The
 * relays run as real processes of the real entries with a real configuration.
 *
 * @module
 */
import { type Child, type ProcessGroup } from "./processes.ts";

/** The benchmark's rows. */
export type TargetName = "none" | "naive" | "deno" | "deno-builtin" | "node";

/** Every target, in table order. */
export const targetNames: readonly TargetName[] = ["none", "naive", "deno", "deno-builtin", "node"];

/** One line of description per target, for the report. */
export const targetDescriptions: Record<TargetName, string> = {
  none: "no relay: client straight to the upstream",
  naive: "naive `ws` pipe on Node (the seed's design; no token check)",
  deno: "Deno server `server/main.ts`, `ws` upstream dialer",
  "deno-builtin": "Deno server, `UPSTREAM_DIALER=builtin` (Deno's WebSocket client)",
  node: "Node fallback `server/node.ts`",
};

/** The model every session asks for (one the simulator accepts). */
export const benchModel = "gpt-realtime";

/** What every target needs to start. */
export interface TargetContext {
  group: ProcessGroup;
  /** The echo upstream's `ws://.../v1/realtime` (without `?model=`). */
  upstreamUrl: string;
  /** The key the upstream accepts (the relays' `OPENAI_API_KEY`). */
  apiKey: string;
  /** The relays' `SUPABASE_URL` (never contacted: tokens are HS256) and `SUPABASE_JWT_SECRET`. */
  supabaseUrl: string;
  jwtSecret: string;
  maxConnections: number;
  /** `taskset -c` list for the relay process. */
  relayCpu: string;
  /** A scratch directory; each relay gets a fresh `RELAY_DATA_DIR` (embedded database) inside it. */
  workDir: string;
  /** Extra relay environment (`--relay-env`), over the bench's own. */
  relayEnv: Record<string, string>;
}

/** A target ready for load. */
export interface RunningTarget {
  name: TargetName;
  /** The relay process, none for "none". */
  process: Child | undefined;
  url: string;
  /** Subprotocols for a session holding `token` (a user JWT). */
  protocolsFor(token: string): string[];
  stop(): Promise<void>;
}

const denoExec = Deno.execPath();

/** A port free right now on 127.0.0.1 (the relays log their port only at info level, off in the bench). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Polls `/health` until it answers 200; fails when the process exits or after `timeoutMs`. */
async function waitHealthy(child: Child, baseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.hasExited) throw child.failure("exited before answering /health");
    try {
      const response = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw child.failure(`did not answer /health with 200 within ${timeoutMs} ms`);
}

/** Starts `name` and resolves once it accepts connections. */
export async function startTarget(name: TargetName, context: TargetContext): Promise<RunningTarget> {
  const upstreamWithModel = `${context.upstreamUrl}?model=${benchModel}`;
  if (name === "none") {
    return {
      name,
      process: undefined,
      url: upstreamWithModel,
      protocolsFor: () => ["realtime", `openai-insecure-api-key.${context.apiKey}`],
      stop: () => Promise.resolve(),
    };
  }
  const withToken = (token: string) => ["realtime", `openai-insecure-api-key.${token}`];
  if (name === "naive") {
    const child = context.group.spawn({
      name: "naive pipe",
      command: "node",
      args: ["--import", "tsx", "server/bench/naive_pipe.ts", upstreamWithModel, context.apiKey],
      cpu: context.relayCpu,
    });
    try {
      const line = await child.waitForLine((l) => l.startsWith('{"port"'), 30_000);
      const { port } = JSON.parse(line) as { port: number };
      return {
        name,
        process: child,
        url: `ws://127.0.0.1:${port}/`,
        protocolsFor: withToken,
        stop: () => child.stop().then(() => {}),
      };
    } catch (error) {
      await child.stop();
      throw error;
    }
  }
  const port = freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: "127.0.0.1",
    OPENAI_API_KEY: context.apiKey,
    OPENAI_REALTIME_URL: context.upstreamUrl,
    OPENAI_REALTIME_MODEL: benchModel,
    SUPABASE_URL: context.supabaseUrl,
    SUPABASE_JWT_SECRET: context.jwtSecret,
    MAX_CONNECTIONS: String(context.maxConnections),
    // Every bench session comes from 127.0.0.1; in production they come from many addresses. The per-user
    // limits stay at their defaults: each session is its own user.
    CONNECT_ATTEMPTS_PER_MINUTE_PER_IP: "1000000",
    RELAY_DATA_DIR: await Deno.makeTempDir({ dir: context.workDir, prefix: `${name}-data-` }),
    LOG_LEVEL: "warn",
    DENO_TLS_CA_STORE: "system",
    ...context.relayEnv,
  };
  const child = name === "node"
    ? context.group.spawn({
      name: "Node relay",
      command: "node",
      args: ["--import", "tsx", "server/node.ts"],
      env,
      cpu: context.relayCpu,
    })
    : context.group.spawn({
      name: `Deno relay (${name === "deno" ? "ws" : "builtin"} dialer)`,
      command: denoExec,
      args: ["run", "-A", "server/main.ts"],
      env: { ...env, UPSTREAM_DIALER: name === "deno" ? "ws" : "builtin" },
      cpu: context.relayCpu,
    });
  try {
    await waitHealthy(child, `http://127.0.0.1:${port}`, 30_000);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return {
    name,
    process: child,
    url: `ws://127.0.0.1:${port}/v1/realtime`,
    protocolsFor: withToken,
    stop: () => child.stop().then(() => {}),
  };
}
