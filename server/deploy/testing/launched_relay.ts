/**
 * Test support: starts a relay the way a deployment artifact says to (the Dockerfile's CMD, a systemd
 * unit's ExecStart), with exactly the environment the artifact gives it, and collects its log lines.
 * Unlike `server/testing/relay_process.ts` the command line is the artifact's, not the test's.
 *
 * @module
 */
import { forEachLine } from "../../testing/lines.ts";

/** A relay started from an artifact's command line. */
export interface LaunchedRelay {
  /** Every stdout/stderr line so far. */
  logs: string[];
  /** The port from the relay's `listening` log line. */
  port: number;
  /** The relay's own process id (from its `listening` line): the launched process or one it started. */
  relayPid: number;
  /** Sends `signal` to the launched process (the artifact's PID 1 / main process). */
  signal(signal: Deno.Signal): void;
  /** SIGKILL to the launched process and to the relay (in case a wrapper left it behind). */
  kill(): void;
  /** Resolves with the exit code once the process has exited and its output is read. */
  exited: Promise<number>;
}

/** Splits a command line the way systemd does for Exec lines: whitespace, single and double quotes. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: string | undefined;
  let inWord = false;
  for (const char of line) {
    if (quote) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unbalanced ${quote} in: ${line}`);
  if (inWord) words.push(word);
  return words;
}

/**
 * Runs `argv` in `cwd` with exactly `env` and waits for the relay's `listening` line (30 s at most).
 * When `env` lacks PATH, the caller's is added (systemd and Docker both provide one).
 */
export async function launchRelay(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<LaunchedRelay> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  let listening: (where: { port: number; pid: number }) => void;
  let failed: (error: Error) => void;
  const portKnown = new Promise<{ port: number; pid: number }>((resolve, reject) => {
    listening = resolve;
    failed = reject;
  });
  const onLine = (line: string) => {
    logs.push(line);
    if (Deno.env.get("RELAY_TEST_VERBOSE")) console.log(`[launched] ${line}`);
    if (line.includes('"event":"listening"')) {
      const record = JSON.parse(line) as { port?: number; url?: string; pid: number };
      listening({ port: record.port ?? Number(new URL(record.url!).port), pid: record.pid });
    }
  };
  const pumps = Promise.all([forEachLine(child.stdout, onLine), forEachLine(child.stderr, onLine)]);
  const exited = child.status.then(async (status) => {
    await pumps;
    failed(new Error(`${argv.join(" ")} exited with ${status.code} before listening:\n${logs.join("\n")}`));
    return status.code;
  });
  const timer = setTimeout(
    () => failed(new Error(`no "listening" within 30 s:\n${logs.join("\n")}`)),
    30_000,
  );
  try {
    const { port, pid } = await portKnown;
    return {
      logs,
      port,
      relayPid: pid,
      signal(signal) {
        try {
          child.kill(signal);
        } catch { /* already gone */ }
      },
      kill() {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      },
      exited,
    };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
