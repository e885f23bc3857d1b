/**
 * Picks and opens the store for a server process: `DATABASE_URL` (PostgreSQL), else supabase-js when
 * SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are set, else embedded PGlite in the data directory.
 * `RELAY_STORAGE` forces one.
 *
 * @module
 */
import { join } from "node:path";
import { ConfigError, type RelayConfig } from "../../shared/config.ts";
import type { ConversationStore } from "../../shared/storage/store.ts";
import { createSupabaseStore } from "../../shared/storage/supabase_store.ts";
import { SchemaBehindError } from "./migrate.ts";
import { openPgliteStore } from "./pglite_store.ts";
import { openPostgresStore } from "./postgres_store.ts";

/** An open store and what it is, for the start-up log. */
export interface OpenedStore {
  store: ConversationStore | undefined;
  kind: "pglite" | "postgres" | "supabase" | "none";
  detail: string;
}

/** Opens the configured store; a missing setting or a schema that is behind is a `ConfigError`. */
export async function openConfiguredStore(config: RelayConfig): Promise<OpenedStore> {
  const { kind: requested, databaseUrl } = config.storage;
  const supabaseReady = Boolean(config.auth.supabaseUrl && config.supabaseServiceRoleKey);
  const kind = requested !== "auto"
    ? requested
    : databaseUrl
    ? "postgres"
    : supabaseReady
    ? "supabase"
    : "pglite";
  switch (kind) {
    case "none":
      return { store: undefined, kind, detail: "RELAY_STORAGE=none: nothing is stored" };
    case "postgres": {
      if (!databaseUrl) throw new ConfigError("DATABASE_URL", "is required with RELAY_STORAGE=postgres");
      try {
        const { store } = await openPostgresStore({ url: databaseUrl });
        return { store, kind, detail: `PostgreSQL at ${new URL(databaseUrl).host}` };
      } catch (error) {
        if (error instanceof SchemaBehindError) throw new ConfigError("DATABASE_URL", error.message);
        throw new ConfigError("DATABASE_URL", `cannot be reached: ${(error as Error).message}`);
      }
    }
    case "supabase": {
      if (!config.auth.supabaseUrl) {
        throw new ConfigError("SUPABASE_URL", "is required with RELAY_STORAGE=supabase");
      }
      if (!config.supabaseServiceRoleKey) {
        throw new ConfigError("SUPABASE_SERVICE_ROLE_KEY", "is required with RELAY_STORAGE=supabase");
      }
      const store = createSupabaseStore({
        url: config.auth.supabaseUrl,
        serviceRoleKey: config.supabaseServiceRoleKey,
      });
      return { store, kind, detail: `Supabase at ${config.auth.supabaseUrl}` };
    }
    case "pglite": {
      const dataDir = join(config.dataDir, "pglite");
      const { store } = await openPgliteStore({ dataDir });
      return { store, kind, detail: `embedded PGlite in ${dataDir}` };
    }
  }
}
