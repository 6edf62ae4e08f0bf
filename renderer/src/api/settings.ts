/** /api/settings (server/api/settings.ts) and the history export/import that the Settings screen offers. */
import type { Config } from "../../../server/config.js";
import { authorization } from "./auth.js";
import { errorFromResponse, networkError } from "./errors.js";
import { request, type RequestOptions } from "./http.js";

import type { EditableKey } from "../../../server/api/settings.js";

export type { EditableKey };

export interface SettingsView {
  /** The running config, without secrets. */
  settings: Omit<Config, "apiKey"> & { apiKeySet: boolean };
  /** What settings.json holds, without secrets. */
  saved: Partial<Omit<Config, "apiKey">> & { apiKeySet: boolean };
  file: string;
  editable: EditableKey[];
  /** Saved settings that differ from the running ones: they apply after a restart. */
  restartRequired: EditableKey[];
}

export type SettingsPatch = Partial<Record<EditableKey, unknown>>;

export const settings = {
  get: (opts?: RequestOptions) => request<SettingsView>("GET", "/api/settings", undefined, opts),
  save: (patch: SettingsPatch, opts?: RequestOptions) => request<SettingsView>("PUT", "/api/settings", patch, opts),
};

export const historyIo = {
  import: (file: unknown, onConflict: "skip" | "replace" | "copy" = "skip") =>
    request<{ imported: string[]; skipped: string[] }>("POST", "/api/import", file, { query: { onConflict } }),
};

/** Downloads a file the server makes (an export) with the API key, then saves it through the browser. */
export async function downloadFile(path: string, fallbackName: string): Promise<void> {
  const headers: Record<string, string> = {};
  const auth = authorization();
  if (auth) headers.Authorization = auth;
  let res: Response;
  try {
    res = await fetch(path, { headers });
  } catch (err) {
    throw networkError(err);
  }
  if (!res.ok) throw await errorFromResponse(res);
  const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
