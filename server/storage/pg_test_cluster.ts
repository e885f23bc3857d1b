/**
 * A throwaway PostgreSQL server for tests (Deno only): `initdb` in a temporary directory, `pg_ctl start`
 * on 127.0.0.1 with a free port and fsync and full_page_writes off, and
 * stop/start so a test can take the database away mid-conversation. As root, the server runs as the
 * `postgres` OS user (PostgreSQL refuses to run as root).
 *
 * The binaries come from Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`), or from
 * `PG_BIN`. Missing binaries are an error that says how to install them, never a silent skip.
 *
 * @module
 */
import { existsSync, readdirSync } from "node:fs";

/** A running (or stopped) test server. */
export interface TestCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  readonly url: string;
  readonly port: number;
  /** PostgreSQL major version of the binaries. */
  readonly version: string;
  /** Stops the server; `immediate` is a crash (no checkpoint), `fast` a clean shutdown. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stops it if running and deletes its directory. */
  destroy(): Promise<void>;
}

/** Finds the directory with `initdb`, `pg_ctl` and `postgres`, or throws saying how to install them. */
export function findPostgresBin(): { bin: string; version: string } {
  const fromEnv = Deno.env.get("PG_BIN");
  if (fromEnv) {
    if (!existsSync(`${fromEnv}/initdb`)) throw new Error(`PG_BIN=${fromEnv} has no initdb`);
    return { bin: fromEnv, version: "PG_BIN" };
  }
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(`${root}/${v}/bin/initdb`)).sort((a, b) =>
      Number(b) - Number(a)
    )
    : [];
  if (versions.length === 0) {
    throw new Error(
      "PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb). Install them with " +
        "`apt-get update && apt-get install -y postgresql` (the CI script .ci/run installs it), or set PG_BIN.",
    );
  }
  return { bin: `${root}/${versions[0]}/bin`, version: versions[0] };
}

async function run(command: string, args: string[], asUser: string | null): Promise<string> {
  const [cmd, argv] = asUser ? ["runuser", ["-u", asUser, "--", command, ...args]] : [command, args];
  const output = await new Deno.Command(cmd, { args: argv, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${command} ${args.join(" ")} failed (exit ${output.code}):\n${text}`);
  return text;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Creates and starts a throwaway server. Call `destroy()` in a `finally`. */
export async function startTestCluster(): Promise<TestCluster> {
  const { bin, version } = findPostgresBin();
  const asUser = Deno.uid() === 0 ? "postgres" : null;
  const dir = await Deno.makeTempDir({ prefix: "relay-pg-" });
  if (asUser) await run("chown", [asUser, dir], null);
  const dataDir = `${dir}/data`;
  const port = freePort();
  await run(`${bin}/initdb`, [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=trust",
    "--no-sync",
    "--encoding=UTF8",
    "--locale=C",
  ], asUser);
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    // fsync off is safe for a test server (only an OS crash loses data); synchronous_commit stays on,
    // or an `immediate` stop (the crash the outage test simulates) loses commits already acknowledged.
    "-c fsync=off",
    "-c full_page_writes=off",
    "-c max_connections=40",
    "-c shared_buffers=16MB",
  ].join(" ");
  let running = false;
  const cluster: TestCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    version,
    async start() {
      await run(`${bin}/pg_ctl`, [
        "-D",
        dataDir,
        "-l",
        `${dir}/server.log`,
        "-w",
        "-t",
        "30",
        "-o",
        options,
        "start",
      ], asUser);
      running = true;
    },
    async stop(mode = "fast") {
      await run(`${bin}/pg_ctl`, ["-D", dataDir, "-w", "-t", "30", "-m", mode, "stop"], asUser);
      running = false;
    },
    async destroy() {
      try {
        if (running) await cluster.stop("immediate");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  };
  try {
    await cluster.start();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  return cluster;
}
