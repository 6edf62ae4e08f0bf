/**
 * CPU time per thread of this process (Linux /proc/self/task/<tid>/schedstat, nanoseconds on CPU).
 * On a shared, loaded machine wall-clock comparisons drown in noise; the CPU time the JavaScript
 * thread and the engine's threads spend per token does not, and bounds what a path can cost.
 */
import fs from "node:fs";

export interface CpuSample {
  /** The JavaScript (main) thread. */
  mainNs: number;
  /** Every other thread: libuv's pool (decode, sampling), OpenMP workers, V8's helpers. */
  otherNs: number;
}

/** null where /proc is not there (macOS, Windows): callers leave the CPU columns out. */
export function cpuSample(): CpuSample | null {
  try {
    const pid = String(process.pid);
    let mainNs = 0;
    let otherNs = 0;
    for (const tid of fs.readdirSync("/proc/self/task")) {
      let ns = 0;
      try {
        ns = Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        continue; // the thread ended meanwhile
      }
      if (tid === pid) mainNs += ns;
      else otherNs += ns;
    }
    return { mainNs, otherNs };
  } catch {
    return null;
  }
}

export function cpuDiff(a: CpuSample | null, b: CpuSample | null): CpuSample | null {
  return a && b ? { mainNs: b.mainNs - a.mainNs, otherNs: b.otherNs - a.otherNs } : null;
}

/** CPU time of all threads of another process (nanoseconds), or null where /proc is not there. */
export function processCpuNs(pid: number): number | null {
  try {
    let ns = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
    return ns;
  } catch {
    return null;
  }
}
