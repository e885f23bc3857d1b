/**
 * Start-up shared by the Deno server and the Node fallback: configuration, the embedded defaults
 * (local token secret, simulator upstream when no OpenAI key is set), logging and the relay app.
 *
 * @module
 */
import type { RuntimeAdapter } from "../shared/adapter.ts";
import { createRelayApp, type RelayApp } from "../shared/app.ts";
import { createJwtVerifier } from "../shared/auth/jwt.ts";
import { loadConfig, type RelayConfig, secretValues } from "../shared/config.ts";
import { createLogger, type Logger } from "../shared/observability/log.ts";
import { createRealtimeSimulator } from "../shared/simulator/realtime_simulator.ts";
import { usesLocalAuth, withLocalAuth } from "./local_auth.ts";

/** A listening HTTP server, as the entry's runtime started it. */
export interface Listening {
  port: number;
  close(): Promise<void>;
}

/** Starts `fetch` on a port with the entry's runtime (used for the embedded simulator). */
export type ServeFunction = (
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>,
  port: number,
  host: string,
) => Promise<Listening>;

/** Everything an entry needs to serve and to shut down. */
export interface BootstrappedRelay {
  config: RelayConfig;
  log: Logger;
  relay: RelayApp;
  /** Stops the embedded simulator, if one was started. */
  stopEmbedded(): Promise<void>;
}

/** Builds the relay for a long-lived server process. Throws `ConfigError` for a bad environment. */
export async function bootstrapRelay(
  env: Record<string, string | undefined>,
  adapter: RuntimeAdapter,
  serveEmbedded: ServeFunction,
): Promise<BootstrappedRelay> {
  const envConfig = loadConfig(env);
  const localAuth = usesLocalAuth(envConfig);
  let config = await withLocalAuth(envConfig);
  let stopEmbedded = () => Promise.resolve();
  let simulatorKey: string | undefined;
  if (!config.openai.apiKey) {
    simulatorKey = `sk-sim-${crypto.randomUUID()}`;
    const simulator = createRealtimeSimulator({
      adapter,
      apiKeys: [simulatorKey],
      realtimePacing: true,
      maxRecordedEvents: 200,
    });
    const listening = await serveEmbedded(simulator.app.fetch, 0, "127.0.0.1");
    stopEmbedded = async () => {
      simulator.closeAll();
      await listening.close();
    };
    config = {
      ...config,
      openai: { ...config.openai, apiKey: simulatorKey, realtimeUrl: `ws://127.0.0.1:${listening.port}/v1/realtime` },
    };
  }
  const log = createLogger({
    level: config.logLevel,
    secrets: secretValues(config),
    base: { runtime: adapter.runtime, instance: config.instanceId },
  });
  if (simulatorKey) {
    log.warn("SIMULATED_UPSTREAM", {
      detail: "OPENAI_API_KEY is not set: sessions go to the local OpenAI Realtime simulator, not to OpenAI. " +
        "Set OPENAI_API_KEY to talk to the real model.",
      upstream: config.openai.realtimeUrl,
    });
  }
  if (localAuth) {
    log.warn("LOCAL_AUTH", {
      detail: `SUPABASE_URL and SUPABASE_JWT_SECRET are not set: tokens are checked against the local secret in ` +
        `${config.dataDir}/local-jwt-secret. Mint one with: deno task token`,
    });
  }
  const verifyToken = createJwtVerifier({
    supabaseUrl: config.auth.supabaseUrl,
    jwtSecret: config.auth.jwtSecret,
    anonKey: config.auth.anonKey,
    issuer: config.auth.issuer,
  });
  const relay = createRelayApp({ config, adapter, log, verifyToken });
  return { config, log, relay, stopEmbedded };
}
