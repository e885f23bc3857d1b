/**
 * Linux process and core accounting read from `/proc`: the relay's own CPU time (utime + stime, all
 * threads) and resident memory, and each core's busy time (to see other load on the pinned cores).
 *
 * @module
 */

/** CPU time of process `pid` so far, in clock ticks (utime + stime of all its threads). */
export function readProcessCpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
  return Number(fields[11]) + Number(fields[12]);
}

/** Resident set size of process `pid` in KiB (`VmRSS`). */
export function readProcessRssKb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS line (is the process a zombie?)`);
  return Number(match[1]);
}

/** Busy and total clock ticks of one core since boot, from `/proc/stat`. */
export interface CoreTicks {
  busy: number;
  total: number;
}

/** Ticks of every core, indexed by core number. */
export function readCoreTicks(): CoreTicks[] {
  const cores: CoreTicks[] = [];
  for (const line of Deno.readTextFileSync("/proc/stat").split("\n")) {
    const match = line.match(/^cpu(\d+)\s+(.*)$/);
    if (!match) continue;
    // user nice system idle iowait irq softirq steal ...
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].split(/\s+/).map(Number);
    const busy = user + nice + system + irq + softirq + (steal ?? 0);
    cores[Number(match[1])] = { busy, total: busy + idle + (iowait ?? 0) };
  }
  return cores;
}

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on, used if getconf fails). */
export async function clockTicksPerSecond(): Promise<number> {
  try {
    const { stdout, success } = await new Deno.Command("getconf", {
      args: ["CLK_TCK"],
      stdout: "piped",
      stderr: "null",
    })
      .output();
    const value = Number(new TextDecoder().decode(stdout).trim());
    if (success && value > 0) return value;
  } catch { /* getconf missing: use Linux's fixed USER_HZ */ }
  return 100;
}
