/**
 * The machine a bench ran on, for the report: cores, CPU model, kernel, runtime versions, load.
 *
 * @module
 */

/** What the report says about the machine. */
export interface MachineInfo {
  /** `nproc` (cores this process may use) and the cores the kernel lists. */
  nproc: number;
  cpuModel: string;
  kernel: string;
  deno: string;
  node: string;
  /** `/proc/loadavg` 1-minute load when the bench started: other work on a shared machine. */
  loadAverageAtStart: number;
}

async function commandOutput(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" })
      .output();
    return success ? new TextDecoder().decode(stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Reads the machine's description (Linux). */
export async function describeMachine(): Promise<MachineInfo> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown";
  const nproc = Number(await commandOutput("nproc", [])) || navigator.hardwareConcurrency;
  return {
    nproc,
    cpuModel: model,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    node: (await commandOutput("node", ["--version"]))?.replace(/^v/, "") ?? "not found",
    loadAverageAtStart: Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]),
  };
}

/** Which code was measured: the commit and whether the working tree differed from it. */
export interface SourceInfo {
  commit: string;
  /** Files changed or added since the commit (`git status --porcelain`); 0 for a clean tree. */
  uncommittedFiles: number;
}

/** Reads the repository's commit and working-tree state (`unknown` outside a git checkout). */
export async function describeSource(repoRoot: string): Promise<SourceInfo> {
  const commit = await commandOutput("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"]);
  const status = await commandOutput("git", ["-C", repoRoot, "status", "--porcelain"]);
  return {
    commit: commit ?? "unknown",
    uncommittedFiles: status ? status.split("\n").filter(Boolean).length : 0,
  };
}

/** True when `taskset` (util-linux) can be run. */
export async function hasTaskset(): Promise<boolean> {
  return (await commandOutput("taskset", ["--version"])) !== undefined;
}
