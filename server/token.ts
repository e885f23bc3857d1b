/**
 * `deno task token [--user <uuid>] [--ttl <seconds>] [--email <address>]`: prints a user access token
 * the relay accepts, signed with the local secret (embedded default) or SUPABASE_JWT_SECRET.
 *
 * @module
 */
import process from "node:process";
import { signHs256Jwt } from "../shared/auth/jwt.ts";
import { ConfigError, loadConfig } from "../shared/config.ts";
import { withLocalAuth } from "./local_auth.ts";

/** The user id minted when none is given: stable, so local conversations stay with one user. */
export const LOCAL_DEV_USER = "00000000-0000-4000-8000-000000000001";

/** Mints a token for `userId` that the relay configured by `env` accepts. */
export async function mintLocalToken(
  env: Record<string, string | undefined>,
  userId = LOCAL_DEV_USER,
  ttlSeconds = 3600,
  email?: string,
): Promise<string> {
  const config = await withLocalAuth(loadConfig(env));
  if (!config.auth.jwtSecret) {
    throw new ConfigError(
      "SUPABASE_JWT_SECRET",
      "is not set: with SUPABASE_URL set, tokens come from Supabase Auth, not from this command",
    );
  }
  const now = Math.floor(Date.now() / 1000);
  return await signHs256Jwt({
    sub: userId,
    aud: "authenticated",
    role: "authenticated",
    iat: now,
    exp: now + ttlSeconds,
    ...(config.auth.issuer ? { iss: config.auth.issuer } : {}),
    ...(email ? { email } : {}),
  }, config.auth.jwtSecret);
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

if (import.meta.main) {
  try {
    const ttl = Number(argument("ttl") ?? 3600);
    if (!Number.isInteger(ttl) || ttl <= 0) {
      throw new ConfigError("--ttl", "must be a positive number of seconds");
    }
    console.log(
      await mintLocalToken(process.env, argument("user") ?? LOCAL_DEV_USER, ttl, argument("email")),
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
