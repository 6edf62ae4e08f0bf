/**
 * The desktop shell's few settings, read from the environment in this one place. Everything else
 * the server needs it reads itself: the shell passes its environment on, so HEARTH_MODEL,
 * HEARTH_THREADS, ... work in the app as they do headless.
 */
import { defaultDataDir } from "../server/config.js";

export interface ShellConfig {
  /** The server's data dir (history, models, settings): HEARTH_DATA_DIR, else the OS's app data folder. */
  dataDir: string;
  /** Electron's own profile folder (window state, secrets key, logs): HEARTH_USER_DATA_DIR, else Electron's default. */
  userDataDir: string | undefined;
  /** A model to load at start: HEARTH_MODEL, else none (the UI offers to pick or download one). */
  model: string | undefined;
  /** First port to try: HEARTH_PORT, else undefined (the server's setting: settings.json, else 7424). */
  port: number | undefined;
  /** HEARTH_DISABLE_UPDATES=1 turns auto-update off even in a packaged app. */
  disableUpdates: boolean;
}

export function shellConfig(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): ShellConfig {
  const port = env.HEARTH_PORT ? Number(env.HEARTH_PORT) : Number.NaN;
  return {
    dataDir: env.HEARTH_DATA_DIR || defaultDataDir(env, platform),
    userDataDir: env.HEARTH_USER_DATA_DIR || undefined,
    model: env.HEARTH_MODEL || undefined,
    port: Number.isInteger(port) && port >= 0 && port <= 65535 ? port : undefined,
    disableUpdates: ["1", "true", "yes"].includes((env.HEARTH_DISABLE_UPDATES ?? "").toLowerCase()),
  };
}
