/**
 * The relay as a Supabase Edge Function: `supabase functions deploy realtime-voice`.
 * Public URL `wss://<ref>.supabase.co/functions/v1/realtime-voice`; inside the function the path is
 * `/realtime-voice/...`. `verify_jwt = false` in config.toml: the relay checks the user's JWT itself.
 * Storage is supabase-js with the service-role key the platform provides.
 *
 * @module
 */
import { createRelayApp } from "../../../shared/app.ts";
import { createJwtVerifier } from "../../../shared/auth/jwt.ts";
import { ConfigError, loadConfig, secretValues } from "../../../shared/config.ts";
import { createLogger } from "../../../shared/observability/log.ts";
import { createSessionPersistence } from "../../../shared/storage/session_persistence.ts";
import { createSupabaseStore } from "../../../shared/storage/supabase_store.ts";
import { createEdgeAdapter } from "./adapter.ts";

async function start(): Promise<void> {
  let config = loadConfig(Deno.env.toObject());
  if (!config.auth.supabaseUrl) {
    throw new ConfigError(
      "SUPABASE_URL",
      "is not set (the platform sets it; set it when running the function elsewhere)",
    );
  }
  if (!config.supabaseServiceRoleKey) {
    throw new ConfigError(
      "SUPABASE_SERVICE_ROLE_KEY",
      "is not set (the platform sets it): transcripts need it",
    );
  }
  const store = createSupabaseStore({
    url: config.auth.supabaseUrl,
    serviceRoleKey: config.supabaseServiceRoleKey,
  });
  if (!config.openai.apiKey) {
    const fromVault = await store.readSecret(config.storage.openaiKeySecretName);
    if (!fromVault) {
      throw new ConfigError(
        "OPENAI_API_KEY",
        `is not set and Vault has no secret '${config.storage.openaiKeySecretName}': run \`supabase secrets set OPENAI_API_KEY=...\``,
      );
    }
    config = { ...config, openai: { ...config.openai, apiKey: fromVault } };
  }
  const adapter = createEdgeAdapter();
  const log = createLogger({
    level: config.logLevel,
    secrets: secretValues(config),
    base: { runtime: adapter.runtime, instance: config.instanceId },
  });
  const verifyToken = createJwtVerifier(config.auth);
  const persistence = createSessionPersistence(config, store, log, adapter);
  const { app } = createRelayApp({
    config,
    adapter,
    log,
    verifyToken,
    persistence,
    basePath: "/realtime-voice",
  });
  // The hosted platform ignores the port; `PORT` only matters when the function runs as a local process.
  Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ port }) => log.info("listening", { port }),
  }, app.fetch);
}

try {
  await start();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    Deno.exit(1);
  }
  throw error;
}
