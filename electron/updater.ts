/**
 * Auto-update from GitHub releases through electron-updater, only in a packaged app: running from
 * source (or with HEARTH_DISABLE_UPDATES=1) never loads it, so development and tests never reach
 * for the network.
 */

/** The part of electron-updater's `autoUpdater` the shell uses. */
export interface AutoUpdaterLike {
  checkForUpdatesAndNotify(): Promise<unknown>;
  on(event: "error", listener: (err: Error) => void): unknown;
}

export interface AutoUpdateOptions {
  isPackaged: boolean;
  disabled: boolean;
  /** Loads electron-updater (a dynamic import in the app). */
  load(): Promise<AutoUpdaterLike>;
  log(message: string): void;
}

/** Starts the update check when allowed; resolves with what it did, for the log. */
export async function startAutoUpdate(
  options: AutoUpdateOptions,
): Promise<"disabled" | "unpackaged" | "checking" | "error"> {
  if (!options.isPackaged) return "unpackaged";
  if (options.disabled) return "disabled";
  try {
    const updater = await options.load();
    // An offline machine or a missing release must never bother the user: log only.
    updater.on("error", (err) => options.log(`auto-update: ${err.message}`));
    updater.checkForUpdatesAndNotify().catch((err: unknown) => options.log(`auto-update: ${(err as Error).message}`));
    return "checking";
  } catch (err) {
    options.log(`auto-update unavailable: ${(err as Error).message}`);
    return "error";
  }
}
