/**
 * Codex CLI for the compatibility suite: the pinned `@openai/codex` installed from npm into
 * `.cache/codex` (ignored by git) the first time, or the reason it cannot be had (no registry, a
 * platform Codex does not publish), for the test to skip with. Never a package.json dependency:
 * its binary comes as an optional dependency per platform (`@openai/codex-linux-x64` is an alias
 * of `@openai/codex@<version>-linux-x64`), which would tie the lock file to the OS it was made on.
 *
 * The test runs the native binary itself, not the package's `bin/codex.js`: on Node 20 that
 * launcher spawns the binary as a child, which a timeout's kill would leave running.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

/** The version the suite tests (README's compatibility table names it). */
export const CODEX_VERSION = "0.171.0";

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cacheDir = path.join(repoRoot, ".cache");
const target = path.join(cacheDir, "codex");
/** The platforms Codex publishes a binary for, as its launcher (bin/codex.js) names them. */
const PLATFORMS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64", "win32-x64", "win32-arm64"];

export type CodexCli = { bin: string; version: string } | { skip: string };

/** The binary under `prefix`: `node_modules/@openai/codex-<platform>/vendor/<target triple>/bin/codex`. */
function binaryIn(prefix: string): string | null {
  const vendor = path.join(prefix, "node_modules", "@openai", `codex-${process.platform}-${process.arch}`, "vendor");
  const name = process.platform === "win32" ? "codex.exe" : "codex";
  const triples = fs.existsSync(vendor) ? fs.readdirSync(vendor) : [];
  return triples.map((t) => path.join(vendor, t, "bin", name)).find((f) => fs.existsSync(f)) ?? null;
}

/** The version the binary under `prefix` reports ("codex-cli 0.171.0"), else null. */
async function versionIn(prefix: string): Promise<string | null> {
  const bin = binaryIn(prefix);
  if (!bin) return null;
  try {
    const { stdout } = await run(bin, ["--version"], { timeout: 30_000 });
    return /codex-cli (\S+)/.exec(stdout)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** npm's own reason ("npm error FetchError: request to ... failed, reason: ..."), not its stack. */
function npmReason(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const lines = (e.stderr || e.message || String(err)).trim().split("\n");
  const said = lines.map((l) => l.replace(/^npm (error|ERR!) ?/, "")).filter((l) => l && l !== lines.at(-1));
  return said.find((l) => /reason:|Error:/.test(l)) ?? said.find((l) => l.startsWith("code ")) ?? lines.at(-1) ?? "";
}

let found: Promise<CodexCli> | undefined;

/** Codex CLI `CODEX_VERSION`, installed on first use (about 400 MB), or why not. */
export function codexCli(): Promise<CodexCli> {
  found ??= (async (): Promise<CodexCli> => {
    const platform = `${process.platform}-${process.arch}`;
    if (!PLATFORMS.includes(platform)) return { skip: `Codex CLI publishes no binary for ${platform}` };
    const ready = (): CodexCli => ({ bin: binaryIn(target)!, version: CODEX_VERSION });
    if ((await versionIn(target)) === CODEX_VERSION) return ready();
    fs.mkdirSync(cacheDir, { recursive: true });
    const temp = fs.mkdtempSync(path.join(cacheDir, "codex-"));
    try {
      const npm = process.platform === "win32" ? "npm.cmd" : "npm";
      await run(
        npm,
        ["install", "--prefix", temp, "--no-save", "--no-audit", "--no-fund", `@openai/codex@${CODEX_VERSION}`],
        {
          timeout: 600_000,
          shell: process.platform === "win32",
        },
      );
      const installed = await versionIn(temp);
      if (installed !== CODEX_VERSION)
        return {
          skip: `npm installed @openai/codex@${CODEX_VERSION}, but its binary reports ${installed ?? "nothing"}`,
        };
      // Another test file may have put its copy in place meanwhile: keep that one.
      if ((await versionIn(target)) !== CODEX_VERSION) {
        fs.rmSync(target, { recursive: true, force: true });
        try {
          fs.renameSync(temp, target);
        } catch {
          // Renamed by another test file between the check and here.
        }
      }
    } catch (err) {
      return { skip: `npm could not install @openai/codex@${CODEX_VERSION}: ${npmReason(err)}` };
    } finally {
      fs.rmSync(temp, { recursive: true, force: true });
    }
    return (await versionIn(target)) === CODEX_VERSION ? ready() : { skip: "Codex CLI was installed but does not run" };
  })();
  return found;
}
