/**
 * Where tests and benchmarks find models: an environment variable, then ../shared/models, then a
 * one-time download of the same file from its Hugging Face address into a cache folder.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const HF_SOURCES: Record<string, string> = {
  "stories260K.gguf": "https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf",
};

export function sharedModelsDir(): string {
  return process.env.HEARTH_MODELS_DIR ?? path.resolve(repoRoot, "..", "shared", "models");
}

async function download(url: string, dest: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  if (!res.ok || !res.body) throw new Error(`Download of ${url} failed: HTTP ${res.status}`);
  const tmp = `${dest}.part`;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(tmp, Buffer.from(await res.arrayBuffer()));
  fs.renameSync(tmp, dest);
}

/** Absolute path to a model file by name, downloading it if no local copy exists. */
export async function modelPath(file: string): Promise<string> {
  const local = path.join(sharedModelsDir(), file);
  if (fs.existsSync(local)) return local;
  const cached = path.join(os.homedir(), ".cache", "hearth-test-models", file);
  if (fs.existsSync(cached)) return cached;
  const url = HF_SOURCES[file];
  if (!url) throw new Error(`Model ${file} is not in ${sharedModelsDir()} and has no download address.`);
  await download(url, cached);
  return cached;
}

/** The real tiny model every test uses (override with HEARTH_TEST_MODEL). */
export async function testModelPath(): Promise<string> {
  return process.env.HEARTH_TEST_MODEL ?? (await modelPath("stories260K.gguf"));
}
