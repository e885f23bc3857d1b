/**
 * The embedded default: real PostgreSQL (PGlite, WASM) in the data directory, migrated at open, so
 * `deno task start` keeps conversations across restarts with nothing installed.
 *
 * One process at a time per data directory: PGlite is single-user and does not lock its directory, and
 * a second process writing it corrupts it. A `relay.lock` file holding the owner's pid guards it; a lock
 * left by a process that is gone is taken over.
 *
 * @module
 */
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { migrate, type MigrateResult } from "./migrate.ts";
import type { SqlDriver, SqlParam } from "./sql_driver.ts";
import { SqlConversationStore } from "./sql_store.ts";

type Queryable = Pick<Transaction, "query" | "exec">;

function wrap(
  target: Queryable,
  transaction: SqlDriver["transaction"],
  close: () => Promise<void>,
): SqlDriver {
  return {
    kind: "pglite",
    async query<Row>(text: string, params: readonly SqlParam[] = []) {
      return (await target.query<Row>(text, [...params])).rows;
    },
    async exec(script: string) {
      await target.exec(script);
    },
    transaction,
    close,
  };
}

/** A {@link SqlDriver} over an open PGlite instance. */
export function pgliteDriver(db: PGlite): SqlDriver {
  const nested = () => Promise.reject(new Error("pglite transactions do not nest"));
  return wrap(
    db,
    (work) => db.transaction((tx) => work(wrap(tx, nested, () => Promise.resolve()))),
    () => db.close(),
  );
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as { code?: string }).code === "EPERM";
  }
}

/** Takes `<dir>/relay.lock` for this process; returns its release. */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, "relay.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      const owner = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) {
        throw new Error(
          `the embedded database in ${dir} is in use by process ${owner}${
            owner === process.pid ? " (this one)" : ""
          }; ` +
            `run one relay per data directory (RELAY_DATA_DIR), or delete ${path} if that process is not a relay`,
        );
      }
      await rm(path, { force: true }); // left by a process that is gone
    }
  }
  throw new Error(`could not take ${path}`);
}

/** Options for {@link openPgliteStore}. */
export interface PgliteStoreOptions {
  /**
   * Directory for the embedded database (created if missing): the database files go in `pgdata/`, the
   * lock in `relay.lock`. Omit for an in-memory database (tests).
   */
  dataDir?: string;
  /** Progress lines from the migration runner. */
  log?: (line: string) => void;
}

/** An open embedded store and what its migration run did. */
export interface PgliteStore {
  store: SqlConversationStore;
  migration: MigrateResult;
}

/** Opens (creating if needed) the PGlite database and applies the bootstrap and pending migrations. */
export async function openPgliteStore(options: PgliteStoreOptions = {}): Promise<PgliteStore> {
  let dataDir: string | undefined;
  let unlock = () => Promise.resolve();
  if (options.dataDir !== undefined) {
    dataDir = resolve(options.dataDir);
    await mkdir(dataDir, { recursive: true });
    unlock = await lockDataDir(dataDir);
  }
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir !== undefined ? { dataDir: join(dataDir, "pgdata") } : {});
  } catch (error) {
    await unlock();
    throw error;
  }
  const opened = pgliteDriver(db);
  const driver: SqlDriver = {
    ...opened,
    close: async () => {
      try {
        await opened.close();
      } finally {
        await unlock();
      }
    },
  };
  try {
    const migration = await migrate(driver, { log: options.log });
    return { store: new SqlConversationStore(driver, { ensureUsers: true }), migration };
  } catch (error) {
    await driver.close();
    const where = dataDir ?? "memory";
    throw new Error(`could not migrate the embedded database (${where}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}
