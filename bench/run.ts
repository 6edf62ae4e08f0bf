/**
 * `npm run bench [-- --quick] [-- --model <path|file>] [-- --out <dir>] [-- name ...]`: runs the
 * benchmark modules in bench/, writes <dir>/<timestamp>.json and a Markdown table (bench/results by
 * default), and prints the table. Each module exports `run({quick, model})`; `--model` is for the
 * modules that take one (gpu). Modules in ON_DEMAND run only when named. The machine (CPU model,
 * cores, memory, engine build) is recorded with the numbers: compare ratios measured in one run,
 * not absolute numbers across machines.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchModule, BenchResult } from "./types.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Modules that run only when named: the GPU run needs a GPU, and duplicates `server` on a CPU. */
const ON_DEMAND = ["gpu"];
/** Options that take a value. */
const VALUE_OPTIONS = ["--model", "--out"];

const args = process.argv.slice(2);
const valueOf = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes("--quick") || process.env.CI === "true";
const model = valueOf("--model");
const only = args.filter((a, i) => !a.startsWith("--") && !VALUE_OPTIONS.includes(args[i - 1] ?? ""));

const modules = fs
  .readdirSync(here)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "types.ts", "soak.ts"].includes(f) && !f.startsWith("_"))
  .map((f) => f.replace(/\.ts$/, ""))
  .filter((name) => (only.length === 0 ? !ON_DEMAND.includes(name) : only.includes(name)))
  .sort();

const machine = {
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.availableParallelism(),
  memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
  platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  node: process.version,
  load1: os.loadavg()[0] ?? 0,
};

const results: (BenchResult & { module: string })[] = [];
for (const name of modules) {
  const mod = (await import(pathToFileURL(path.join(here, `${name}.ts`)).href)) as BenchModule;
  if (typeof mod.run !== "function") continue;
  process.stderr.write(`bench: ${name}${quick ? " (quick)" : ""}...\n`);
  const started = performance.now();
  try {
    for (const r of await mod.run({ quick, ...(model ? { model } : {}) })) results.push({ module: name, ...r });
  } catch (err) {
    results.push({ module: name, name: `${name} FAILED`, metrics: {}, notes: (err as Error).stack ?? String(err) });
  }
  process.stderr.write(`bench: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

const table = [
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}, load ${machine.load1.toFixed(2)}${quick ? " (quick mode)" : ""}`,
  "",
  "| module | benchmark | metrics | notes |",
  "| --- | --- | --- | --- |",
  ...results.map((r) => {
    const metrics = Object.entries(r.metrics)
      .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`)
      .join(", ");
    return `| ${r.module} | ${r.name} | ${metrics} | ${(r.notes ?? "").replaceAll("\n", " ").replaceAll("|", "\\|").slice(0, 300)} |`;
  }),
].join("\n");

const outDir = path.resolve(valueOf("--out") ?? path.join(here, "results"));
fs.mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
fs.writeFileSync(path.join(outDir, `${stamp}.json`), JSON.stringify({ machine, quick, results }, null, 2));
fs.writeFileSync(path.join(outDir, `${stamp}.md`), `${table}\n`);
fs.writeFileSync(path.join(outDir, "latest.md"), `${table}\n`);
process.stdout.write(`${table}\n\nWritten to ${path.relative(process.cwd(), path.join(outDir, stamp))}.{json,md}\n`);
if (results.some((r) => r.name.endsWith("FAILED"))) process.exitCode = 1;
