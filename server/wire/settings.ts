/**
 * The shapes of /api/settings (server/api/settings.ts): which settings the Settings screen may
 * change, and what GET and PUT answer. The values themselves are the config's (config.ts
 * ConfigSchema, which needs Node to apply its defaults), so they travel here as plain JSON values.
 */

/** What the screen may change. `dataDir` (where the file lives), `model` and `uiDir` stay with the command line. */
export const EDITABLE_SETTINGS = [
  "host",
  "port",
  "ollamaPort",
  "apiKey",
  "corsOrigins",
  "allowedHosts",
  "insecure",
  "localRpm",
  "localTpm",
  "threads",
  "batchThreads",
  "lanes",
  "parallel",
  "ctxSize",
  "gpu",
  "engineBinary",
  "maxQueue",
  "defaultMaxTokens",
  "requestTimeout",
  "recordApi",
  "toolTimeout",
  "toolResultLimit",
  "toolMaxSteps",
  "apiRetentionDays",
  "logLevel",
  "modelDirs",
  "modelIdleTimeout",
  "modelMemoryMb",
  "modelLoadTimeout",
  "hfEndpoint",
  "promptLookup",
  "draftModel",
  "draftMax",
] as const;
export type EditableKey = (typeof EDITABLE_SETTINGS)[number];

/** Settings by name, secrets left out: only whether an API key is set. */
export type SettingsValues = Record<string, unknown> & { apiKeySet: boolean };

/** What GET and PUT /api/settings answer. */
export interface SettingsView {
  /** The running config, without secrets. */
  settings: SettingsValues;
  /** What the settings file holds, without secrets. */
  saved: SettingsValues;
  /** The settings file: `--config`, else `<data-dir>/settings.json`. */
  file: string;
  editable: readonly EditableKey[];
  /** Settings that guard the server: only the desktop app changes them (after the person confirms), or the command line. */
  protected: readonly EditableKey[];
  /** Saved settings that differ from the running ones: they apply after a restart. */
  restartRequired: EditableKey[];
  /** Where the running server serves Ollama's API; null when it is off or its port could not be bound. */
  ollamaUrl: string | null;
}
