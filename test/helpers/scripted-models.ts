/**
 * Scripted test models (scripts/make-test-models.ts): small GGUFs with a real family's tokenizer and
 * chat template whose greedy output is a fixed script. `scriptedModel(name)` returns the file,
 * building it into `.cache/test-models/` first when it is missing or stale (a few seconds).
 */
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
