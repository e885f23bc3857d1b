/**
 * The bench's child processes: spawned pinned to a core (`taskset -c`), their output kept line by line,
 * and every one of them stopped when the bench ends, fails or is interrupted.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { forEachLine } from "../testing/lines.ts";

/** The repository root, where every child runs. */
export const repoRoot: string = fileURLToPath(new URL("../../", import.meta.url));

/** How to start one child. */
export interface ChildSpec {
  /** Shown in errors. */
  name: string;
  command: string;
  args: string[];
  /** Added to a minimal environment (PATH, HOME); nothing else is inherited. */
  env?: Record<string, string>;
  /** `taskset -c` core list; undefined runs unpinned. */
  cpu?: string;
}

/** A running child. */
export class Child {
  /** Every output line (stdout and stderr) so far, the last 500. */
  readonly lines: string[] = [];
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  private readonly listeners = new Set<(line: string) => void>();
  private readonly pumps: Promise<void>;
  private exitCode: number | undefined;

  constructor(readonly spec: ChildSpec, private readonly process: Deno.ChildProcess) {
    this.exited = process.status.then((status) => (this.exitCode = status.code));
    this.pumps = Promise.all([this.pump(process.stdout), this.pump(process.stderr)]).then(() => {});
  }

  /** The process id (with `taskset`, the pinned program's own: taskset execs it). */
  get pid(): number {
    return this.process.pid;
  }

  /** True once the process has exited. */
  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  /** Calls `listener` with each new line; returns an unsubscribe. */
  onLine(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the first line (already seen or new) `match` accepts; rejects on exit or after `timeoutMs`. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (error?: Error, line?: string) => {
        clearTimeout(timer);
        unsubscribe();
        if (error) reject(error);
        else resolve(line!);
      };
      const timer = setTimeout(
        () => done(this.failure(`no expected output within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const unsubscribe = this.onLine((line) => {
        if (match(line)) done(undefined, line);
      });
      this.exited.then((code) => done(this.failure(`exited with code ${code}`)));
    });
  }

  /** An error naming the child, with its last output lines. */
  failure(what: string): Error {
    return new Error(
      `${this.spec.name} (pid ${this.pid}) ${what}; last output:\n${this.lines.slice(-20).join("\n")}`,
    );
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code once its output is drained. */
  async stop(graceMs = 5000): Promise<number> {
    if (!this.hasExited) {
      try {
        this.process.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const killer = setTimeout(() => {
      try {
        this.process.kill("SIGKILL");
      } catch { /* already gone */ }
    }, graceMs);
    const code = await this.exited;
    clearTimeout(killer);
    await this.pumps;
    return code;
  }

  private pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    return forEachLine(stream, (line) => this.push(line));
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 500) this.lines.shift();
    for (const listener of this.listeners) listener(line);
  }
}

/** Every child the bench started; {@link stopAll} ends those still running. */
export class ProcessGroup {
  private readonly children = new Set<Child>();

  constructor(private readonly pinning: boolean) {}

  /** Starts `spec` (through `taskset` when pinning is on and `spec.cpu` is set). */
  spawn(spec: ChildSpec): Child {
    const pinned = this.pinning && spec.cpu !== undefined;
    const process = new Deno.Command(pinned ? "taskset" : spec.command, {
      args: pinned ? ["-c", spec.cpu!, spec.command, ...spec.args] : spec.args,
      cwd: repoRoot,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/tmp",
        DENO_NO_UPDATE_CHECK: "1",
        ...spec.env,
      },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const child = new Child(spec, process);
    this.children.add(child);
    child.exited.then(() => this.children.delete(child));
    return child;
  }

  /** Stops every child still running, in parallel. */
  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.children].map((child) => child.stop(graceMs)));
  }
}
