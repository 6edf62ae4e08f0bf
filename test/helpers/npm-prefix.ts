/**
 * Clients the compatibility suite cannot take as devDependencies, installed from npm on first use
 * into a prefix of their own under `.cache/<name>` (ignored by git): openai@4, whose optional
 * `zod@3` peer conflicts with the project's zod 4, and LlamaIndex, which brings openai@5. Each
 * prefix has its own node_modules, so its packages never touch the project's lock file; a client
 * script copied into the prefix (`clientIn`) imports them from there.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cacheDir = path.join(repoRoot, ".cache");
/** Written last into a finished prefix: the package specs it holds. */
const MARKER = "hearth-packages.json";

export type NpmPrefix = { dir: string } | { skip: string };

function holds(prefix: string, specs: readonly string[]): boolean {
  try {
    return fs.readFileSync(path.join(prefix, MARKER), "utf8") === JSON.stringify(specs);
  } catch {
    return false;
  }
}

/** npm's own reason ("FetchError: request to ... failed, reason: ...", "code ERESOLVE"), not its stack. */
function npmReason(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const lines = (e.stderr || e.message || String(err)).trim().split("\n");
  const said = lines.map((l) => l.replace(/^npm (error|ERR!) ?/, "")).filter((l) => l && l !== lines.at(-1));
  const code = said.find((l) => l.startsWith("code "));
  // After the code npm says what went wrong: "notarget No matching version found for ...".
  const next = code ? said[said.indexOf(code) + 1] : undefined;
  return said.find((l) => /reason:|Error:/.test(l)) ?? (code && next ? `${code}: ${next}` : code) ?? lines.at(-1) ?? "";
}

const found = new Map<string, Promise<NpmPrefix>>();

/**
 * `.cache/<name>` with exactly `specs` installed (pinned versions: `openai@4.104.0`), installing
 * them first when it does not (a few seconds; test files racing each other install into their own
 * temp folder and the first rename wins), or npm's reason why it cannot, for the test to skip with.
 */
export function npmPrefix(name: string, specs: readonly string[]): Promise<NpmPrefix> {
  let p = found.get(name);
  if (!p) {
    p = (async (): Promise<NpmPrefix> => {
      const target = path.join(cacheDir, name);
      if (holds(target, specs)) return { dir: target };
      fs.mkdirSync(cacheDir, { recursive: true });
      const temp = fs.mkdtempSync(path.join(cacheDir, `${name}-`));
      try {
        const npm = process.platform === "win32" ? "npm.cmd" : "npm";
        await run(npm, ["install", "--prefix", temp, "--no-save", "--no-audit", "--no-fund", ...specs], {
          timeout: 300_000,
          shell: process.platform === "win32",
        });
        fs.writeFileSync(path.join(temp, MARKER), JSON.stringify(specs));
        // Another test file may have put its copy in place meanwhile: keep that one.
        if (!holds(target, specs)) {
          fs.rmSync(target, { recursive: true, force: true });
          try {
            fs.renameSync(temp, target);
          } catch {
            // Renamed by another test file between the check and here.
          }
        }
      } catch (err) {
        return { skip: `npm could not install ${specs.join(" ")}: ${npmReason(err)}` };
      } finally {
        fs.rmSync(temp, { recursive: true, force: true });
      }
      return holds(target, specs) ? { dir: target } : { skip: `${specs.join(" ")} installed, but not in ${target}` };
    })();
    found.set(name, p);
  }
  return p;
}

/**
 * Copies the client script `file` (under test/compat/clients/) and the cases runner beside it into
 * `prefix`, so that the script's imports resolve to the prefix's packages, and returns the copy.
 */
export function clientIn(prefix: string, file: string): string {
  const dir = path.join(prefix, "client");
  fs.mkdirSync(dir, { recursive: true });
  const clients = path.join(repoRoot, "test", "compat", "clients");
  for (const f of [file, "cases.ts"]) fs.copyFileSync(path.join(clients, f), path.join(dir, f));
  // ES modules whatever package.json lies above the cache (the scripts await at the top level).
  fs.writeFileSync(path.join(dir, "package.json"), '{ "type": "module", "private": true }\n');
  return path.join(dir, file);
}
