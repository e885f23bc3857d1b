/**
 * The embedded default's auth: with neither SUPABASE_URL nor SUPABASE_JWT_SECRET set, the relay signs
 * and checks HS256 tokens with a secret it generates once and keeps in its data directory. Tokens are
 * still verified; unsigned tokens are never accepted.
 *
 * @module
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RelayConfig } from "../shared/config.ts";

/** The `iss` of tokens minted for the embedded default. */
export const LOCAL_ISSUER = "relay-local";

/** True when no Supabase auth is configured, so the relay uses its local secret. */
export function usesLocalAuth(config: RelayConfig): boolean {
  return !config.auth.supabaseUrl && !config.auth.jwtSecret;
}

/** Reads the local signing secret from `dataDir`, creating it (mode 0600) on first use. */
export async function loadOrCreateLocalSecret(dataDir: string): Promise<string> {
  const path = join(dataDir, "local-jwt-secret");
  try {
    const existing = (await readFile(path, "utf8")).trim();
    if (existing.length >= 32) return existing;
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  const secret = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
  await writeFile(path, secret + "\n", { mode: 0o600 });
  return secret;
}

/** Returns the config with the local secret and issuer filled in when local auth applies. */
export async function withLocalAuth(config: RelayConfig): Promise<RelayConfig> {
  if (!usesLocalAuth(config)) return config;
  const jwtSecret = await loadOrCreateLocalSecret(config.dataDir);
  return { ...config, auth: { ...config.auth, jwtSecret, issuer: config.auth.issuer ?? LOCAL_ISSUER } };
}
