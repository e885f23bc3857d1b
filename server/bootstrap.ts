/**
 * Start-up shared by the Deno server and the Node fallback: configuration, the embedded defaults
 * (local token secret, simulator upstream when no OpenAI key is set), logging and the relay app.
 *
 * @module
 */
import type { Hono } from "hono";
import type { RuntimeAdapter } from "../shared/adapter.ts";
import { createRelayApp, type RelayApp } from "../shared/app.ts";
import { createJwtVerifier } from "../shared/auth/jwt.ts";
import { loadConfig, type RelayConfig, secretValues } from "../shared/config.ts";
import { createLogger, type Logger } from "../shared/observability/log.ts";
import { createRealtimeSimulator } from "../shared/simulator/realtime_simulator.ts";
import { createSessionPersistence } from "../shared/storage/session_persistence.ts";
import { mountDemo } from "./demo.ts";
import { usesLocalAuth, withLocalAuth } from "./local_auth.ts";
import { LOCAL_DEV_USER, mintLocalToken } from "./token.ts";
import { openConfiguredStore } from "./storage/open_store.ts";

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
  /** Writes what is still queued (up to `timeoutMs`), then closes the store. */
  closeStorage(timeoutMs: number): Promise<void>;
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
  const opened = await openConfiguredStore(config);
  let keyFromVault = false;
  if (!config.openai.apiKey && opened.store) {
    const vaultKey = await opened.store.readSecret(config.storage.openaiKeySecretName).catch(() => null);
    if (vaultKey) {
      config = { ...config, openai: { ...config.openai, apiKey: vaultKey } };
      keyFromVault = true;
    }
  }
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
      openai: {
        ...config.openai,
        apiKey: simulatorKey,
        realtimeUrl: `ws://127.0.0.1:${listening.port}/v1/realtime`,
      },
    };
  }
  const log = createLogger({
    level: config.logLevel,
    secrets: secretValues(config),
    base: { runtime: adapter.runtime, instance: config.instanceId },
  });
  log.info("storage", { kind: opened.kind, detail: opened.detail });
  if (keyFromVault) log.info("openai_key_from_vault", { secret: config.storage.openaiKeySecretName });
  if (simulatorKey) {
    log.warn("SIMULATED_UPSTREAM", {
      detail:
        "OPENAI_API_KEY is not set: sessions go to the local OpenAI Realtime simulator, not to OpenAI. " +
        "Set OPENAI_API_KEY to talk to the real model.",
      upstream: config.openai.realtimeUrl,
    });
  }
  if (localAuth) {
    log.warn("LOCAL_AUTH", {
      detail:
        `SUPABASE_URL and SUPABASE_JWT_SECRET are not set: tokens are checked against the local secret in ` +
        `${config.dataDir}/local-jwt-secret. Mint one with: deno task token`,
    });
  }
  const verifyToken = createJwtVerifier(config.auth);
  const persistence = opened.store ? createSessionPersistence(config, opened.store, log, adapter) : undefined;
  // One-click tokens only where they give nothing away: local auth and the simulator upstream.
  const devToken = localAuth && simulatorKey
    ? async () => ({
      token: await mintLocalToken(env, LOCAL_DEV_USER),
      userId: LOCAL_DEV_USER,
      expiresInSeconds: 3600,
    })
    : undefined;
  const beforeRoutes = (app: Hono) => mountDemo(app, { devToken, log });
  const relay = createRelayApp({ config, adapter, log, verifyToken, persistence, beforeRoutes });
  const closeStorage = async (timeoutMs: number) => {
    if (persistence) {
      const result = await persistence.queue.flush(timeoutMs);
      if (!result.flushed) log.error("storage_unflushed", { pending: result.pending, timeoutMs });
      persistence.queue.close();
    }
    await opened.store?.close();
  };
  return { config, log, relay, stopEmbedded, closeStorage };
}
