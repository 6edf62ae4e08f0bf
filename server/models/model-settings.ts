/**
 * Per-model load settings (context size, GPU layers, parallel sequences, threads), kept in
 * `<data-dir>/model-settings.json`. A setting left out falls back to the server-wide value, so
 * an empty file gives defaults that work without configuration.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

export const ModelSettingsSchema = z.strictObject({
  /** Tokens per sequence; 0 chooses from the model (capped at 4096). Defaults to the server's --ctx-size. */
  contextSize: z.number().int().min(0).max(1_048_576).optional(),
  /** "auto" fits what free VRAM allows, "max" offloads every layer, a number that many. Defaults to "auto". */
  gpuLayers: z.union([z.literal("auto"), z.literal("max"), z.number().int().min(0).max(10_000)]).optional(),
  /** Sequences decoded together; 0 chooses from the model and memory. Defaults to the server's --parallel. */
  parallel: z.number().int().min(0).max(64).optional(),
  /** CPU threads for this model's math; 0 uses the server's. Defaults to the server's --threads. */
  threads: z.number().int().min(0).max(256).optional(),
});
export type ModelSettings = z.infer<typeof ModelSettingsSchema>;

const FileSchema = z.record(z.string(), ModelSettingsSchema);

export class ModelSettingsStore {
  private values: Record<string, ModelSettings> = {};
  private writing: Promise<void> = Promise.resolve();

  /** Reads the file; a missing or unreadable file means no overrides (logged by the caller). */
  constructor(
    private readonly file: string | null,
    onError?: (err: Error) => void,
  ) {
    if (!file) return;
    try {
      this.values = FileSchema.parse(JSON.parse(fs.readFileSync(file, "utf8")));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") onError?.(err as Error);
    }
  }

  get(id: string): ModelSettings {
    return { ...(this.values[id] ?? {}) };
  }

  /** Replaces a model's settings (an empty object clears them) and saves the file. */
  async set(id: string, settings: ModelSettings): Promise<ModelSettings> {
    const clean = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as ModelSettings;
    if (Object.keys(clean).length === 0) delete this.values[id];
    else this.values[id] = clean;
    await this.save();
    return this.get(id);
  }

  async remove(id: string): Promise<void> {
    if (!(id in this.values)) return;
    delete this.values[id];
    await this.save();
  }

  private save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const text = `${JSON.stringify(this.values, null, 2)}\n`;
    // Writes are chained so an older snapshot never lands after a newer one.
    this.writing = this.writing
      .catch(() => undefined)
      .then(async () => {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await fsp.writeFile(tmp, text);
        await fsp.rename(tmp, file);
      });
    return this.writing;
  }
}
