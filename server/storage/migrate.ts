/**
 * Applies `supabase/migrations/*.sql` to a database that is not managed by the Supabase CLI (embedded
 * PGlite, `DATABASE_URL`), after the bootstrap that stands in for what Supabase provides
 * (`bootstrap.sql`, only where `auth.users` is missing or is that stand-in). Applied versions are
 * recorded in `public.relay_schema_migrations`; versions the Supabase CLI recorded
 * (`supabase_migrations.schema_migrations`, after `supabase db push`) count as applied too.
 *
 * @module
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SqlDriver } from "./sql_driver.ts";

/** One migration file. */
export interface Migration {
  /** The timestamp prefix of the file name, e.g. `20261121000001` (the Supabase CLI's version). */
  version: string;
  /** The file name. */
  name: string;
  sql: string;
}

/** Where the database stands relative to the migration files. */
export interface SchemaStatus {
  /** Versions recorded as applied (ours and the Supabase CLI's). */
  applied: string[];
  /** Migration files not applied yet, in order. */
  pending: Migration[];
  /** True when nothing is pending. */
  upToDate: boolean;
  /** True when `auth` is this project's stand-in (PGlite, plain PostgreSQL): users are created by the relay. */
  bootstrapped: boolean;
  /** True when the database has an `auth.users` that is not the stand-in (Supabase). */
  supabase: boolean;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** True when the bootstrap was (re)applied. */
  bootstrapped: boolean;
  /** Versions applied by this run, in order. */
  applied: string[];
}

/** Thrown when the schema is behind the migration files; the message names the command that fixes it. */
export class SchemaBehindError extends Error {
  override readonly name = "SchemaBehindError";
  constructor(readonly pending: string[]) {
    super(
      `the database schema is behind: ${pending.length} migration(s) pending (${pending.join(", ")}). ` +
        "Apply them with `deno task migrate` (it reads DATABASE_URL), or `supabase db push` for a Supabase project.",
    );
  }
}

const defaultMigrationsDir = new URL("../../supabase/migrations/", import.meta.url);
const bootstrapFile = new URL("./bootstrap.sql", import.meta.url);
const migrationFilePattern = /^(\d+)_[A-Za-z0-9_.-]+\.sql$/;
// Serializes concurrent runners (two relays starting, or `deno task migrate` twice) on one database.
const MIGRATION_LOCK_KEY = 7_262_024_113;

/** The bookkeeping table; created by the runner, never by a migration. */
const createBookkeeping = `
create table if not exists public.relay_schema_migrations (
  version text primary key,
  name text not null,
  applied_at timestamptz not null default now()
);
-- Not readable through PostgREST by anon/authenticated on a Supabase database.
alter table public.relay_schema_migrations enable row level security;
`;

/** Reads the migration files of `dir` (default: the repo's `supabase/migrations/`), ordered by version. */
export async function loadMigrations(dir: URL = defaultMigrationsDir): Promise<Migration[]> {
  const path = fileURLToPath(dir);
  const names = (await readdir(path)).filter((n) => migrationFilePattern.test(n)).sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const version = migrationFilePattern.exec(name)![1];
    if (migrations.some((m) => m.version === version)) {
      throw new Error(`two migration files share version ${version} in ${path}`);
    }
    migrations.push({ version, name, sql: await readFile(join(path, name), "utf8") });
  }
  return migrations;
}

/** The bootstrap SQL (stand-ins for Supabase's auth schema, roles and Vault). */
export function loadBootstrapSql(): Promise<string> {
  return readFile(fileURLToPath(bootstrapFile), "utf8");
}

interface Probe {
  has_bookkeeping: boolean;
  has_supabase_bookkeeping: boolean;
  has_auth_users: boolean;
  bootstrapped: boolean;
}

async function probe(db: SqlDriver): Promise<Probe> {
  const rows = await db.query<Probe>(`
    select to_regclass('public.relay_schema_migrations') is not null as has_bookkeeping,
           to_regclass('supabase_migrations.schema_migrations') is not null as has_supabase_bookkeeping,
           to_regclass('auth.users') is not null as has_auth_users,
           coalesce(obj_description(to_regnamespace('auth'), 'pg_namespace'), '') like 'relay bootstrap%'
             as bootstrapped`);
  return rows[0];
}

async function appliedVersions(db: SqlDriver, found: Probe): Promise<Set<string>> {
  const versions = new Set<string>();
  if (found.has_bookkeeping) {
    for (
      const r of await db.query<{ version: string }>("select version from public.relay_schema_migrations")
    ) {
      versions.add(r.version);
    }
  }
  if (found.has_supabase_bookkeeping) {
    for (
      const r of await db.query<{ version: string }>(
        "select version::text as version from supabase_migrations.schema_migrations",
      )
    ) {
      versions.add(r.version);
    }
  }
  return versions;
}

/** Compares the database with the migration files, changing nothing. */
export async function schemaStatus(db: SqlDriver, migrations?: Migration[]): Promise<SchemaStatus> {
  const files = migrations ?? await loadMigrations();
  const found = await probe(db);
  const applied = await appliedVersions(db, found);
  const pending = files.filter((m) => !applied.has(m.version));
  return {
    applied: [...applied].sort(),
    pending,
    upToDate: pending.length === 0,
    bootstrapped: found.bootstrapped,
    supabase: found.has_auth_users && !found.bootstrapped,
  };
}

/** Throws {@link SchemaBehindError} when migrations are pending; returns the status otherwise. */
export async function assertSchemaCurrent(db: SqlDriver, migrations?: Migration[]): Promise<SchemaStatus> {
  const status = await schemaStatus(db, migrations);
  if (!status.upToDate) throw new SchemaBehindError(status.pending.map((m) => m.name));
  return status;
}

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /** Default: the repo's migration files. */
  migrations?: Migration[];
  /**
   * `auto` (default): apply the bootstrap when `auth.users` is missing or is the stand-in, i.e. never on
   * Supabase. `never`: skip it.
   */
  bootstrap?: "auto" | "never";
  /** Progress lines (one per applied migration). */
  log?: (line: string) => void;
}

/**
 * Brings the database up to date: bootstrap (where needed), then each pending migration in its own
 * transaction, recorded in `relay_schema_migrations`. Safe to run again and concurrently.
 */
export async function migrate(db: SqlDriver, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = options.migrations ?? await loadMigrations();
  const log = options.log ?? (() => {});
  const result: MigrateResult = { bootstrapped: false, applied: [] };
  const before = await probe(db);
  if ((options.bootstrap ?? "auto") === "auto" && (!before.has_auth_users || before.bootstrapped)) {
    const bootstrap = await loadBootstrapSql();
    await db.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      await tx.exec(bootstrap);
    });
    result.bootstrapped = true;
    if (!before.bootstrapped) log("bootstrap applied (auth, roles and vault stand-ins)");
  }
  await db.exec(createBookkeeping);
  const found = await probe(db);
  const applied = await appliedVersions(db, found);
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    const ran = await db.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      // Another runner may have applied it while this one waited for the lock.
      const done = await tx.query("select 1 from public.relay_schema_migrations where version = $1", [
        migration.version,
      ]);
      if (done.length > 0) return false;
      try {
        await tx.exec(migration.sql);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`migration ${migration.name} failed: ${message}`, { cause: error });
      }
      await tx.query("insert into public.relay_schema_migrations (version, name) values ($1, $2)", [
        migration.version,
        migration.name,
      ]);
      return true;
    });
    if (ran) {
      result.applied.push(migration.version);
      log(`applied ${migration.name}`);
    }
  }
  return result;
}
