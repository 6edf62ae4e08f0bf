/**
 * Per-model load settings (context size, GPU layers, parallel sequences, threads), kept in
 * `<data-dir>/model-settings.json`. A setting left out falls back to the server-wide value, so
 * an empty file gives defaults that work without configuration.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { ModelSettingsSchema, type ModelSettings } from "../wire/models.js";

export type { ModelSettings };

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
