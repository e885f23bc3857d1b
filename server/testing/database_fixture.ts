/**
 * Test support: the database a relay process under test writes to, and the admin connection tests use
 * to seed and inspect it. Servers get a real PostgreSQL (throwaway cluster, `DATABASE_URL`); the edge
 * entry gets supabase-js against the PostgREST stand-in on an embedded database, as on Supabase.
 *
 * @module
 */
import { migrate } from "../storage/migrate.ts";
import { openPgliteStore } from "../storage/pglite_store.ts";
import { startTestCluster, type TestCluster } from "../storage/pg_test_cluster.ts";
import { postgresDriver } from "../storage/postgres_store.ts";
import { PostgrestStandin } from "../storage/postgrest_standin.ts";
import type { SqlDriver } from "../storage/sql_driver.ts";

/** A migrated database for one test. */
export interface DatabaseFixture {
  /** A superuser connection for seeding and assertions. */
  admin: SqlDriver;
  /** Environment for the relay process (besides SUPABASE_URL, which the caller serves). */
  relayEnv: Record<string, string>;
  /** Serves PostgREST under `/rest/v1/` when the relay uses supabase-js; undefined otherwise. */
  rest: ((request: Request) => Promise<Response>) | undefined;
  /** The PostgreSQL cluster, when there is one (tests stop and start it). */
  cluster: TestCluster | undefined;
  close(): Promise<void>;
}

/** The service-role key the stand-in accepts. */
export const standinServiceKey = "test-service-role-key-for-the-standin-0123456789";

/** Starts the database a relay of the given flavour writes to. */
export async function startDatabaseFixture(flavour: "postgres" | "supabase"): Promise<DatabaseFixture> {
  if (flavour === "supabase") {
    const { store } = await openPgliteStore();
    const admin = store.db;
    const standin = new PostgrestStandin(admin, standinServiceKey);
    return {
      admin,
      relayEnv: { SUPABASE_SERVICE_ROLE_KEY: standinServiceKey },
      rest: standin.fetch,
      cluster: undefined,
      close: () => store.close(),
    };
  }
  const cluster = await startTestCluster();
  const admin = postgresDriver(cluster.url);
  await migrate(admin);
  return {
    admin,
    relayEnv: { DATABASE_URL: cluster.url },
    rest: undefined,
    cluster,
    close: async () => {
      await admin.close();
      await cluster.destroy();
    },
  };
}

/** Adds a user to the stand-in `auth.users` (Supabase Auth's table). */
export async function seedUser(admin: SqlDriver, id: string): Promise<void> {
  await admin.query("insert into auth.users (id, email) values ($1::uuid, $2) on conflict do nothing", [
    id,
    `${id}@example.test`,
  ]);
}

/** Polls `query` until `done(rows)` or ~10 s pass; returns the last rows. */
export async function waitForRows<Row>(
  admin: SqlDriver,
  query: string,
  params: (string | number)[],
  done: (rows: Row[]) => boolean,
): Promise<Row[]> {
  let rows: Row[] = [];
  for (let i = 0; i < 200; i++) {
    rows = await admin.query<Row>(query, params);
    if (done(rows)) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return rows;
}
