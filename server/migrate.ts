/**
 * `deno task migrate`: applies `supabase/migrations/` to the PostgreSQL database in `DATABASE_URL`,
 * after the bootstrap that stands in for Supabase's auth schema, roles and Vault where those are missing
 * (never on a Supabase database). Safe to run again. With `--status` it only reports, and exits 1 when
 * migrations are pending.
 *
 * Also runs on Node: `node --import tsx server/migrate.ts`.
 *
 * @module
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { migrate, schemaStatus } from "./storage/migrate.ts";
import { postgresDriver } from "./storage/postgres_store.ts";

/** Where `url` points, without credentials, for messages. */
function describe(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}

/** Runs the command; returns the exit code. */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const url = env.DATABASE_URL;
  if (!url) {
    console.error(
      "DATABASE_URL is not set. It names the PostgreSQL database to migrate, e.g. " +
        "postgres://user:password@host:5432/dbname (the embedded PGlite store migrates itself at start).",
    );
    return 2;
  }
  const target = describe(url);
  const driver = postgresDriver(url, { max: 1 });
  try {
    if (args.includes("--status")) {
      const status = await schemaStatus(driver);
      console.log(
        status.upToDate
          ? `${target}: schema is up to date (${status.applied.length} migrations applied)`
          : `${target}: ${status.pending.length} pending: ${status.pending.map((m) => m.name).join(", ")}`,
      );
      return status.upToDate ? 0 : 1;
    }
    const result = await migrate(driver, { log: (line) => console.log(`${target}: ${line}`) });
    if (result.applied.length === 0) console.log(`${target}: schema is up to date, nothing to apply`);
    return 0;
  } catch (error) {
    console.error(`migrate ${target} failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await driver.close();
  }
}

const isMain = (import.meta as { main?: boolean }).main ??
  (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]);
if (isMain) process.exit(await main(process.argv.slice(2), process.env));
