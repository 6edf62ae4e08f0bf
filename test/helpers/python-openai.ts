/**
 * OpenAI's Python SDK for the compatibility suite: `python3` with the `openai` package installed
 * by pip into `.cache/python-openai` (ignored by git) the first time, or the reason it cannot be
 * had (no python3, no pip, no package index), for the test to skip with.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const cacheDir = path.join(repoRoot, ".cache");
const target = path.join(cacheDir, "python-openai");
const python = process.platform === "win32" ? "python" : "python3";

export type PythonOpenAI = { python: string; env: Record<string, string>; version: string } | { skip: string };

/** The SDK's version when `python` imports it from `dir`, else null. */
async function versionIn(dir: string): Promise<string | null> {
  try {
    const { stdout } = await run(python, ["-c", "import openai, pydantic; print(openai.__version__)"], {
      env: { ...process.env, PYTHONPATH: dir },
      timeout: 60_000,
    });
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

function lastLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  const text = (e.stderr || e.message || String(err)).trim().split("\n");
  return text.at(-1) ?? "";
}

let found: Promise<PythonOpenAI> | undefined;

/** Python with the openai package, installed on first use (a minute or two), or why not. */
export function pythonOpenAI(): Promise<PythonOpenAI> {
  found ??= (async (): Promise<PythonOpenAI> => {
    try {
      await run(python, ["--version"], { timeout: 30_000 });
    } catch {
      return { skip: `${python} is not installed` };
    }
    const ready = (version: string) => ({ python, env: { PYTHONPATH: target }, version });
    const cached = await versionIn(target);
    if (cached) return ready(cached);
    fs.mkdirSync(cacheDir, { recursive: true });
    const temp = fs.mkdtempSync(path.join(cacheDir, "python-openai-"));
    try {
      await run(
        python,
        ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", temp, "openai"],
        {
          timeout: 600_000,
        },
      );
    } catch (err) {
      fs.rmSync(temp, { recursive: true, force: true });
      return { skip: `pip could not install the openai package: ${lastLine(err)}` };
    }
    if (!(await versionIn(target))) {
      fs.rmSync(target, { recursive: true, force: true });
      try {
        fs.renameSync(temp, target);
      } catch {
        // Another test file put its copy in place first.
      }
    }
    fs.rmSync(temp, { recursive: true, force: true });
    const version = await versionIn(target);
    return version ? ready(version) : { skip: "the openai package was installed but does not import" };
  })();
  return found;
}
