/**
 * Direct PostgreSQL for operators who prefer a pooled connection (`DATABASE_URL`), through the
 * `postgres` package. The pool reconnects by itself: queries fail while the server is away (the write
 * queue retries them) and succeed again once it is back.
 *
 * The schema is not migrated here: `deno task migrate` does that, and {@link openPostgresStore} refuses
 * a database that is behind.
 *
 * @module
 */
import postgres from "postgres";
import { assertSchemaCurrent, SchemaBehindError, type SchemaStatus } from "./migrate.ts";
import { type SqlDriver, type SqlParam, toStorageError } from "./sql_driver.ts";
import { SqlConversationStore } from "./sql_store.ts";

/** Pool settings for {@link postgresDriver}. */
export interface PostgresDriverOptions {
  /** Connections at most; default 5. */
  max?: number;
  /** Seconds to wait for a connection; default 10. */
  connectTimeoutSeconds?: number;
  /**
   * Named prepared statements; default false, which also works behind transaction-mode poolers
   * (Supabase's pooler on port 6543, PgBouncer).
   */
  prepare?: boolean;
}

type Sql = postgres.Sql<Record<string, never>>;

function wrap(
  sql: Sql | postgres.TransactionSql,
  transaction: SqlDriver["transaction"],
  close: () => Promise<void>,
) {
  const driver: SqlDriver = {
    kind: "postgres",
    async query<Row>(text: string, params: readonly SqlParam[] = []) {
      const rows = await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
      return [...rows] as Row[];
    },
    async exec(script: string) {
      await sql.unsafe(script).simple();
    },
    transaction,
    close,
  };
  return driver;
}

/** A pooled {@link SqlDriver} for a `postgres://` URL. */
export function postgresDriver(url: string, options: PostgresDriverOptions = {}): SqlDriver {
  const sql: Sql = postgres(url, {
    max: options.max ?? 5,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    idle_timeout: 60,
    prepare: options.prepare ?? false,
    onnotice: () => {},
    connection: { application_name: "realtime-voice-relay" },
  });
  const nested = () => Promise.reject(new Error("postgres transactions do not nest here"));
  return wrap(
    sql,
    async <T>(work: (tx: SqlDriver) => Promise<T>) => {
      const result = await sql.begin((tx) => work(wrap(tx, nested, () => Promise.resolve())));
      return result as T;
    },
    () => sql.end({ timeout: 5 }),
  );
}

/** Options for {@link openPostgresStore}. */
export interface PostgresStoreOptions extends PostgresDriverOptions {
  /** The `DATABASE_URL`. */
  url: string;
}

/** An open PostgreSQL store and the schema status it was opened against. */
export interface PostgresStore {
  store: SqlConversationStore;
  schema: SchemaStatus;
}

/**
 * Connects and checks the schema. Rejects with `SchemaBehindError` (naming `deno task migrate`) when
 * migrations are pending, and with a `StorageError` when the database cannot be reached.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const driver = postgresDriver(options.url, options);
  try {
    const schema = await assertSchemaCurrent(driver).catch((error) => {
      if (error instanceof SchemaBehindError) throw error;
      throw toStorageError(error, "schema check", "postgres");
    });
    return { store: new SqlConversationStore(driver, { ensureUsers: schema.bootstrapped }), schema };
  } catch (error) {
    await driver.close();
    throw error;
  }
}
