/**
 * A stand-in for Supabase's REST layer (PostgREST) for tests: the subset of its wire protocol that
 * supabase-js uses in `shared/storage/supabase_store.ts`, executed on a real database (PGlite or
 * PostgreSQL, migrated like production) as the `service_role` role, the way PostgREST runs a request
 * made with the service-role key.
 *
 * Covered: `GET /rest/v1/<table>` with `select` (plain column lists), filters `eq`/`neq`/`is`, `or=(...)`,
 * `order`, `limit` and `Accept: application/vnd.pgrst.object+json`; `POST /rest/v1/<table>` (object or
 * array body, `columns`, `on_conflict`, `Prefer: resolution=ignore-duplicates|merge-duplicates`,
 * `return=representation|minimal`); `PATCH /rest/v1/<table>` with filters; `POST /rest/v1/rpc/<fn>`
 * with named arguments (trailing defaulted ones may be left out) returning a scalar, JSON, or void
 * (answered 204). `apikey` and `Authorization: Bearer` must carry the service
 * key. Anything else is answered 400 `STANDIN` so an adapter change that leaves the subset fails loudly.
 * Every request is recorded for assertions.
 *
 * Not PostgREST: no JWT verification beyond comparing the key, no embedded resources, no other operators
 * or media types, no schema cache semantics, error bodies only approximate PostgREST's (`code`,
 * `message`, status mapped from the SQLSTATE class).
 *
 * @module
 */
import type { SqlDriver } from "./sql_driver.ts";

/** One request as the stand-in saw it. */
export interface RecordedRequest {
  method: string;
  /** Path after `/rest/v1/`, e.g. `chat_messages_v2` or `rpc/relay_get_secret`. */
  path: string;
  /** Query parameters in order, as decoded pairs. */
  query: Array<[string, string]>;
  apikey: string | null;
  authorization: string | null;
  prefer: string | null;
  accept: string | null;
  contentType: string | null;
  body: unknown;
}

interface Column {
  name: string;
  type: string;
}

class StandinError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const identifier = /^[a-z_][a-z0-9_]*$/;
const reservedParams = new Set(["select", "order", "limit", "on_conflict", "columns", "or"]);

function quoteIdent(name: string): string {
  if (!identifier.test(name)) throw new StandinError(400, "STANDIN", `unsupported identifier ${name}`);
  return `"${name}"`;
}

/** Maps a SQLSTATE to the HTTP status PostgREST answers with (approximately). */
function statusForSqlState(code: string): number {
  if (code === "23505" || code === "23503") return 409;
  if (code === "42501") return 403;
  if (code === "42P01" || code === "42883") return 404;
  if (/^(08|53|57)/.test(code)) return 503;
  if (/^(22|23|42|P0)/.test(code)) return 400;
  return 500;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** The stand-in; serve {@link PostgrestStandin.fetch} with any HTTP server (tests use `Deno.serve`). */
export class PostgrestStandin {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** When true, answers 503 as PostgREST does when it cannot reach the database. */
  unavailable = false;
  private readonly columns = new Map<string, Column[]>();

  constructor(private readonly db: SqlDriver, private readonly serviceKey: string) {}

  /** Handles one request. */
  fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const text = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      return json(400, { code: "PGRST102", message: "Empty or invalid json" });
    }
    const path = url.pathname.startsWith("/rest/v1/") ? url.pathname.slice("/rest/v1/".length) : url.pathname;
    this.requests.push({
      method: request.method,
      path,
      query: [...url.searchParams.entries()],
      apikey: request.headers.get("apikey"),
      authorization: request.headers.get("authorization"),
      prefer: request.headers.get("prefer"),
      accept: request.headers.get("accept"),
      contentType: request.headers.get("content-type"),
      body,
    });
    if (request.headers.get("apikey") !== this.serviceKey) {
      return json(401, { message: "Invalid API key" });
    }
    if (request.headers.get("authorization") !== `Bearer ${this.serviceKey}`) {
      return json(401, { code: "PGRST301", message: "JWT could not be verified" });
    }
    const profile = request.headers.get("accept-profile") ?? request.headers.get("content-profile");
    if (profile !== null && profile !== "public") {
      return json(406, { code: "PGRST106", message: `schema ${profile} is not exposed` });
    }
    if (this.unavailable) {
      return json(503, { code: "PGRST001", message: "Database client error. Retrying the connection." });
    }
    try {
      if (!url.pathname.startsWith("/rest/v1/")) {
        throw new StandinError(404, "STANDIN", `no route ${url.pathname}`);
      }
      if (path.startsWith("rpc/")) {
        if (request.method !== "POST") throw new StandinError(400, "STANDIN", "rpc needs POST");
        return await this.rpc(path.slice(4), body, url.searchParams);
      }
      const table = path;
      if (!identifier.test(table)) throw new StandinError(404, "STANDIN", `no route ${url.pathname}`);
      const prefer = parsePrefer(request.headers.get("prefer"));
      const single = (request.headers.get("accept") ?? "").startsWith("application/vnd.pgrst.object+json");
      switch (request.method) {
        case "GET":
          return await this.select(table, url.searchParams, single);
        case "POST":
          return await this.insert(table, url.searchParams, body, prefer, single);
        case "PATCH":
          return await this.update(table, url.searchParams, body, prefer, single);
        default:
          throw new StandinError(405, "STANDIN", `method ${request.method} is not in the stand-in's subset`);
      }
    } catch (error) {
      if (error instanceof StandinError) {
        return json(error.status, { code: error.code, message: error.message });
      }
      const code = String((error as { code?: unknown }).code ?? "");
      const message = error instanceof Error ? error.message : String(error);
      return json(/^[0-9A-Z]{5}$/.test(code) ? statusForSqlState(code) : 500, {
        code,
        message,
        details: null,
        hint: null,
      });
    }
  };

  private async tableColumns(table: string): Promise<Column[]> {
    const cached = this.columns.get(table);
    if (cached) return cached;
    const rows = await this.db.query<Column>(
      `select attname::text as name, format_type(atttypid, atttypmod) as type
         from pg_attribute
        where attrelid = to_regclass($1) and attnum > 0 and not attisdropped
        order by attnum`,
      [`public.${table}`],
    );
    if (rows.length === 0) {
      throw new StandinError(
        404,
        "PGRST205",
        `Could not find the table 'public.${table}' in the schema cache`,
      );
    }
    this.columns.set(table, rows);
    return rows;
  }

  private column(columns: Column[], name: string): Column {
    const found = columns.find((c) => c.name === name);
    if (!found) throw new StandinError(400, "42703", `column ${name} does not exist`);
    return found;
  }

  private selectList(columns: Column[], select: string | null): string {
    if (select === null || select === "*") return "*";
    return select.split(",").map((name) => quoteIdent(this.column(columns, name.trim()).name)).join(", ");
  }

  /** WHERE clause from the filter parameters; values become bind parameters. */
  private where(columns: Column[], params: URLSearchParams, values: string[], qualifier = ""): string {
    const conditions: string[] = [];
    for (const [key, value] of params.entries()) {
      if (reservedParams.has(key)) continue;
      conditions.push(this.condition(columns, key, value, values, qualifier));
    }
    const or = params.get("or");
    if (or !== null) {
      const match = /^\((.*)\)$/.exec(or);
      if (!match) throw new StandinError(400, "STANDIN", `unsupported or filter ${or}`);
      const parts = match[1].split(",").map((part) => {
        const dot = part.indexOf(".");
        if (dot < 0) throw new StandinError(400, "STANDIN", `unsupported or filter ${or}`);
        return this.condition(columns, part.slice(0, dot), part.slice(dot + 1), values, qualifier);
      });
      conditions.push(`(${parts.join(" or ")})`);
    }
    return conditions.length === 0 ? "" : ` where ${conditions.join(" and ")}`;
  }

  private condition(
    columns: Column[],
    name: string,
    filter: string,
    values: string[],
    qualifier: string,
  ): string {
    const column = this.column(columns, name);
    const dot = filter.indexOf(".");
    const op = dot < 0 ? filter : filter.slice(0, dot);
    const operand = dot < 0 ? "" : filter.slice(dot + 1);
    const ident = qualifier + quoteIdent(column.name);
    if (op === "eq" || op === "neq") {
      values.push(operand);
      return `${ident} ${op === "eq" ? "=" : "<>"} $${values.length}::${column.type}`;
    }
    if (op === "is" && ["null", "true", "false"].includes(operand)) return `${ident} is ${operand}`;
    throw new StandinError(400, "STANDIN", `unsupported filter ${name}=${filter}`);
  }

  private orderBy(columns: Column[], order: string | null): string {
    if (order === null) return "";
    const terms = order.split(",").map((term) => {
      const [name, ...modifiers] = term.split(".");
      let sql = quoteIdent(this.column(columns, name).name);
      for (const modifier of modifiers) {
        if (modifier === "asc" || modifier === "desc") sql += ` ${modifier}`;
        else if (modifier === "nullsfirst" || modifier === "nullslast") sql += ` nulls ${modifier.slice(5)}`;
        else throw new StandinError(400, "STANDIN", `unsupported order ${term}`);
      }
      return sql;
    });
    return ` order by ${terms.join(", ")}`;
  }

  private limit(params: URLSearchParams): string {
    const limit = params.get("limit");
    if (limit === null) return "";
    if (!/^\d+$/.test(limit)) throw new StandinError(400, "STANDIN", `unsupported limit ${limit}`);
    return ` limit ${limit}`;
  }

  /** Runs `sql` as the service role in one transaction and returns its single text value. */
  private async asServiceRole(sql: string, values: readonly (string | null)[]): Promise<string | null> {
    return await this.db.transaction(async (tx) => {
      await tx.query("set local role service_role");
      await tx.query("select set_config('request.jwt.claims', $1, true)", [
        JSON.stringify({ role: "service_role" }),
      ]);
      const rows = await tx.query<{ body: string | null }>(sql, values);
      return rows[0]?.body ?? null;
    });
  }

  private respondRows(
    status: number,
    bodyText: string | null,
    single: boolean,
    represent: boolean,
  ): Response {
    if (!represent) return new Response(null, { status: status === 200 ? 204 : status });
    const rows = JSON.parse(bodyText ?? "[]") as unknown[];
    if (single) {
      if (rows.length !== 1) {
        return json(406, {
          code: "PGRST116",
          message: "JSON object requested, multiple (or no) rows returned",
          details: `The result contains ${rows.length} rows`,
        });
      }
      return json(status, rows[0]);
    }
    return json(status, rows);
  }

  private async select(table: string, params: URLSearchParams, single: boolean): Promise<Response> {
    const columns = await this.tableColumns(table);
    const values: string[] = [];
    const sql = `select coalesce(json_agg(r), '[]')::text as body from (select ${
      this.selectList(columns, params.get("select"))
    } from public.${quoteIdent(table)}${this.where(columns, params, values)}${
      this.orderBy(columns, params.get("order"))
    }${this.limit(params)}) r`;
    return this.respondRows(200, await this.asServiceRole(sql, values), single, true);
  }

  private async insert(
    table: string,
    params: URLSearchParams,
    body: unknown,
    prefer: Map<string, string>,
    single: boolean,
  ): Promise<Response> {
    const columns = await this.tableColumns(table);
    const rows = Array.isArray(body) ? body : [body];
    if (rows.length === 0 || rows.some((r) => r === null || typeof r !== "object" || Array.isArray(r))) {
      throw new StandinError(400, "STANDIN", "insert body must be an object or an array of objects");
    }
    for (const key of params.keys()) {
      if (!["select", "on_conflict", "columns"].includes(key)) {
        throw new StandinError(400, "STANDIN", `unsupported insert parameter ${key}`);
      }
    }
    const names = params.get("columns") !== null
      ? params.get("columns")!.split(",").map((c) => c.replace(/^"|"$/g, ""))
      : [...new Set(rows.flatMap((r) => Object.keys(r as Record<string, unknown>)))];
    const list = names.map((n) => quoteIdent(this.column(columns, n).name)).join(", ");
    let conflict = "";
    const resolution = prefer.get("resolution");
    const onConflict = params.get("on_conflict");
    if (resolution !== undefined) {
      if (onConflict === null) throw new StandinError(400, "STANDIN", "resolution without on_conflict");
      const targets = onConflict.split(",").map((n) => this.column(columns, n).name);
      const target = targets.map(quoteIdent).join(", ");
      if (resolution === "ignore-duplicates") {
        conflict = ` on conflict (${target}) do nothing`;
      } else if (resolution === "merge-duplicates") {
        const updates = names.filter((n) => !targets.includes(n)).map((n) =>
          `${quoteIdent(n)} = excluded.${quoteIdent(n)}`
        );
        conflict = updates.length === 0
          ? ` on conflict (${target}) do nothing`
          : ` on conflict (${target}) do update set ${updates.join(", ")}`;
      } else {
        throw new StandinError(400, "STANDIN", `unsupported resolution ${resolution}`);
      }
    } else if (onConflict !== null) {
      throw new StandinError(400, "STANDIN", "on_conflict without Prefer: resolution");
    }
    const sql = `with written as (
        insert into public.${quoteIdent(table)} (${list})
        select ${list} from json_populate_recordset(null::public.${quoteIdent(table)}, $1::json)${conflict}
        returning *)
      select coalesce(json_agg(r), '[]')::text as body
        from (select ${this.selectList(columns, params.get("select"))} from written) r`;
    const represent = prefer.get("return") === "representation";
    return this.respondRows(201, await this.asServiceRole(sql, [JSON.stringify(rows)]), single, represent);
  }

  private async update(
    table: string,
    params: URLSearchParams,
    body: unknown,
    prefer: Map<string, string>,
    single: boolean,
  ): Promise<Response> {
    const columns = await this.tableColumns(table);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new StandinError(400, "STANDIN", "update body must be an object");
    }
    const names = Object.keys(body);
    if (names.length === 0) throw new StandinError(400, "STANDIN", "empty update");
    const values: string[] = [JSON.stringify(body)];
    const where = this.where(columns, params, values, "target.");
    if (where === "") throw new StandinError(400, "STANDIN", "update without filters");
    const sets = names.map((n) => `${quoteIdent(this.column(columns, n).name)} = given.${quoteIdent(n)}`);
    const sql = `with written as (
        update public.${quoteIdent(table)} as target set ${sets.join(", ")}
          from json_populate_record(null::public.${quoteIdent(table)}, $1::json) as given${where}
        returning target.*)
      select coalesce(json_agg(r), '[]')::text as body
        from (select ${this.selectList(columns, params.get("select"))} from written) r`;
    const represent = prefer.get("return") === "representation";
    return this.respondRows(200, await this.asServiceRole(sql, values), single, represent);
  }

  private async rpc(fn: string, body: unknown, params: URLSearchParams): Promise<Response> {
    if ([...params.keys()].length > 0) throw new StandinError(400, "STANDIN", "rpc parameters in the query");
    const args = (body ?? {}) as Record<string, unknown>;
    if (typeof args !== "object" || Array.isArray(args)) throw new StandinError(400, "STANDIN", "rpc body");
    quoteIdent(fn);
    const candidates = await this.db.query<
      {
        arg_names: string[] | null;
        arg_types: string[];
        defaults: number;
        returns_set: boolean;
        returns: string;
      }
    >(
      `select p.proargnames as arg_names,
              array(select format_type(t, null) from unnest(p.proargtypes) as t) as arg_types,
              p.pronargdefaults::integer as defaults,
              p.proretset as returns_set,
              format_type(p.prorettype, null) as returns
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.proname = $1`,
      [fn],
    );
    // As PostgREST: every argument without a default must be named, and nothing else (the trailing
    // `defaults` arguments may be left out).
    const keys = Object.keys(args);
    const match = candidates.find((c) => {
      const names = c.arg_names ?? [];
      const required = names.slice(0, names.length - c.defaults);
      return keys.every((k) => names.includes(k)) && required.every((name) => keys.includes(name));
    });
    if (!match) {
      throw new StandinError(
        404,
        "PGRST202",
        `Could not find the function public.${fn}(${[...keys].sort().join(", ")})`,
      );
    }
    if (match.returns_set) {
      throw new StandinError(400, "STANDIN", "set-returning functions are not in the subset");
    }
    const values: (string | null)[] = [];
    const named: string[] = [];
    (match.arg_names ?? []).forEach((name, i) => {
      if (!(name in args)) return;
      const value = args[name];
      values.push(
        value === null || value === undefined
          ? null
          : typeof value === "string"
          ? value
          : JSON.stringify(value),
      );
      named.push(`${quoteIdent(name)} => $${values.length}::${match.arg_types[i]}`);
    });
    const call = `public.${quoteIdent(fn)}(${named.join(", ")})`;
    if (match.returns === "void") {
      // PostgREST 12+ answers a void function with 204 No Content.
      await this.asServiceRole(`select 1 as body from ${call}`, values);
      return new Response(null, { status: 204 });
    }
    const result = await this.asServiceRole(`select to_json(${call})::text as body`, values);
    return new Response(result ?? "null", { status: 200, headers: { "content-type": "application/json" } });
  }
}

function parsePrefer(header: string | null): Map<string, string> {
  const prefer = new Map<string, string>();
  for (const part of (header ?? "").split(",")) {
    const [key, value] = part.trim().split("=");
    if (!key) continue;
    if (!["return", "resolution"].includes(key)) {
      throw new StandinError(400, "STANDIN", `unsupported Prefer ${part.trim()}`);
    }
    prefer.set(key, value ?? "");
  }
  return prefer;
}
