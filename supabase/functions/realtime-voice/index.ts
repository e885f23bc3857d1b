/**
 * The relay as a Supabase Edge Function: `supabase functions deploy realtime-voice`.
 * Public URL `wss://<ref>.supabase.co/functions/v1/realtime-voice`; inside the function the path is
 * `/realtime-voice/...`. `verify_jwt = false` in config.toml: the relay checks the user's JWT itself.
 *
 * @module
 */
import { createRelayApp } from "../../../shared/app.ts";
import { createJwtVerifier } from "../../../shared/auth/jwt.ts";
import { ConfigError, loadConfig, secretValues } from "../../../shared/config.ts";
import { createLogger } from "../../../shared/observability/log.ts";
import { createEdgeAdapter } from "./adapter.ts";

function start(): void {
  const config = loadConfig(Deno.env.toObject());
  if (!config.auth.supabaseUrl && !config.auth.jwtSecret) {
    throw new ConfigError("SUPABASE_URL", "is not set (the platform sets it; set SUPABASE_JWT_SECRET when running elsewhere)");
  }
  if (!config.openai.apiKey) {
    throw new ConfigError("OPENAI_API_KEY", "is not set: run `supabase secrets set OPENAI_API_KEY=...`");
  }
  const adapter = createEdgeAdapter();
  const log = createLogger({
    level: config.logLevel,
    secrets: secretValues(config),
    base: { runtime: adapter.runtime, instance: config.instanceId },
  });
  const verifyToken = createJwtVerifier({
    supabaseUrl: config.auth.supabaseUrl,
    jwtSecret: config.auth.jwtSecret,
    anonKey: config.auth.anonKey,
    issuer: config.auth.issuer,
  });
  const { app } = createRelayApp({ config, adapter, log, verifyToken, basePath: "/realtime-voice" });
  // The hosted platform ignores the port; `PORT` only matters when the function runs as a local process.
  Deno.serve({ port: config.port, hostname: config.host, onListen: ({ port }) => log.info("listening", { port }) }, app.fetch);
}

try {
  start();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    Deno.exit(1);
  }
  throw error;
}
