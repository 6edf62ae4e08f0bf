/**
 * Scripted test models (scripts/make-test-models.ts): small GGUFs with a real family's tokenizer and
 * chat template whose greedy output is a fixed script. `scriptedModel(name)` returns the file,
 * building it into `.cache/test-models/` first when it is missing or stale (a few seconds).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  SCRIPTED_MODELS,
  ensureScriptedModel,
  scriptedModelTokens,
  type ScriptSpec,
  type ScriptedModelName,
} from "../../scripts/make-test-models.js";

export { SCRIPTED_MODELS, scriptedModelTokens, type ScriptedModelName };

/** Absolute path of the scripted model `name`, built on demand (safe from parallel test files). */
export function scriptedModel(name: ScriptedModelName): string {
  return ensureScriptedModel(name);
}

/** The script: what the model writes from the start of its reply, special tokens included. */
export function scriptOf(name: ScriptedModelName): ScriptSpec {
  return SCRIPTED_MODELS[name];
}

/**
 * A temp folder holding just `names` (symbolic links where the file system allows, else copies),
 * for a server's `modelDirs`: the shared cache holds every scripted model, and a server scans each
 * file's 150k-token vocabulary before it lists any (about a second a file on these machines). Links,
 * not hard links: the load check's verdict is keyed by the real path (engine/load-probe.ts), so a
 * link reuses the verdict test servers share (test/helpers/server.ts) where a hard link in a new
 * temp folder costs another check in a child process (about 5 s a model here).
 */
export function scriptedModelsDir(names: readonly ScriptedModelName[]): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-scripted-"));
  for (const name of names) {
    const file = scriptedModel(name);
    const to = path.join(dir, path.basename(file));
    try {
      fs.symlinkSync(file, to, "file");
    } catch {
      fs.copyFileSync(file, to);
    }
  }
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
