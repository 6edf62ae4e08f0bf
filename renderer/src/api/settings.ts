/** /api/settings (shapes: server/wire/settings.ts) and the history export/import that the Settings screen offers. */
import type { EditableKey, SettingsView } from "../../../server/wire/settings.js";
import { authorization, bridge } from "./auth.js";
import { errorFromResponse, networkError } from "./errors.js";
import { request, type RequestOptions } from "./http.js";

export type { EditableKey, SettingsView };

export type SettingsPatch = Partial<Record<EditableKey, unknown>>;

/** True when this UI can change the settings that guard the server: only inside the desktop app. */
export const canChangeProtected = (): boolean => bridge()?.saveSettings !== undefined;

export const settings = {
  get: (opts?: RequestOptions) => request<SettingsView>("GET", "/api/settings", undefined, opts),
  /**
   * Saves a patch. One that touches a guarding setting goes through the desktop app, which asks
   * the person in a native dialog first; resolves with null when they cancelled.
   */
  save: async (patch: SettingsPatch, protectedKeys: readonly string[] = []): Promise<SettingsView | null> => {
    const shell = bridge();
    if (!shell?.saveSettings || !Object.keys(patch).some((k) => protectedKeys.includes(k)))
      return request<SettingsView>("PUT", "/api/settings", patch);
    const answer = await shell.saveSettings(patch);
    if (answer === null) return null;
    const res = new Response(answer.body, { status: answer.status, headers: { "content-type": "application/json" } });
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as SettingsView;
  },
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
