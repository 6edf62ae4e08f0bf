/**
 * The desktop app's lifecycle, written against the small slice of Electron it uses (the interfaces
 * below) so it runs under plain Node in tests with fakes of those objects and the real server as
 * its child. main.ts passes the real Electron modules; nothing here imports `electron`.
 *
 * Order of events: single-instance lock -> ready -> secrets key -> IPC, session hardening, menu,
 * tray -> window (status page) -> server start -> the window loads the UI from the server. A crash
 * shows the status page with the reason while the supervisor restarts the server, then the UI
 * comes back. Quit stops the server gracefully before the app exits.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isLoopbackHost, PROTECTED_SETTINGS, SETTINGS_TOKEN_HEADER, type ProtectedKey } from "../server/config.js";
import { IpcChannel, registerIpc, type IpcMainLike, type SaveSettingsResult } from "./ipc.js";
import { buildAppMenu, type MenuActions, type MenuItemSpec } from "./menu.js";
import type { HearthServerStatus } from "./preload-api.js";
import { loadSecretsKey, secretsKeyEnv, type SafeStorageLike } from "./secrets.js";
import {
  hardenSession,
  hardenWebContents,
  secureWebPreferences,
  type PreventableEvent,
  type SessionLike,
  type WebContentsLike,
} from "./security.js";
import { ServerSupervisor, type ServerLauncher, type ServerStatus, type SupervisorOptions } from "./server-process.js";
import { bindTray, type TrayLike } from "./tray.js";
import {
  loadWindowState,
  MIN_HEIGHT,
  MIN_WIDTH,
  trackWindowState,
  type DisplayLike,
  type TrackableWindow,
} from "./window-state.js";

/** The part of Electron's `app` the shell uses. */
export interface AppLike {
  readonly isPackaged: boolean;
  requestSingleInstanceLock(): boolean;
  whenReady(): Promise<unknown>;
  on(event: "second-instance" | "activate" | "window-all-closed", listener: () => void): unknown;
  on(event: "before-quit", listener: (event: PreventableEvent) => void): unknown;
  quit(): void;
  exit(exitCode?: number): void;
  getPath(name: "userData"): string;
  getVersion(): string;
}

/** The part of Electron's `BrowserWindow` the shell uses. */
export interface WindowLike extends TrackableWindow {
  readonly webContents: WebContentsLike & { getURL(): string };
  loadURL(url: string): Promise<void>;
  loadFile(file: string, options?: { query?: Record<string, string> }): Promise<void>;
  show(): void;
  focus(): void;
  restore(): void;
  isMinimized(): boolean;
  maximize(): void;
  setFullScreen(flag: boolean): void;
  setTitle(title: string): void;
  once(event: "ready-to-show", listener: () => void): unknown;
  on(event: "closed", listener: () => void): unknown;
  on(
    event: "resize" | "move" | "maximize" | "unmaximize" | "enter-full-screen" | "leave-full-screen" | "close",
    listener: () => void,
  ): unknown;
}

/** Options the shell gives `new BrowserWindow(...)`. */
export interface WindowOptions {
  x?: number;
  y?: number;
  width: number;
  height: number;
  minWidth: number;
  minHeight: number;
  show: boolean;
  title: string;
  icon?: string;
  backgroundColor: string;
  webPreferences: ReturnType<typeof secureWebPreferences>;
}

/** The Electron objects the shell drives; main.ts passes the real ones, tests pass fakes. */
export interface ShellElectron {
  app: AppLike;
  createWindow(options: WindowOptions): WindowLike;
  createTray(iconPath: string): TrayLike;
  buildMenu(template: MenuItemSpec[]): unknown;
  setApplicationMenu(menu: unknown): void;
  openExternal(url: string): Promise<void>;
  /** Opens a folder in the system file manager; resolves with an error message, "" on success. */
  openPath(folder: string): Promise<string>;
  showOpenDialog(
    window: WindowLike | null,
    options: { title: string; properties: "openFile"[]; filters: { name: string; extensions: string[] }[] },
  ): Promise<{ canceled: boolean; filePaths: string[] }>;
  showMessageBox(
    window: WindowLike | null,
    options: {
      type: "info" | "error" | "warning";
      title: string;
      message: string;
      detail?: string;
      buttons: string[];
      defaultId?: number;
      cancelId?: number;
    },
  ): Promise<{ response: number }>;
  safeStorage: SafeStorageLike;
  getAllDisplays(): DisplayLike[];
  getPrimaryDisplay(): DisplayLike;
  ipcMain: IpcMainLike;
  session: SessionLike;
}

export interface ShellOptions {
  appName: string;
  launcher: ServerLauncher;
  /** The server's data dir. */
  dataDir: string;
  /** Defaults to none. */
  model?: string;
  /** Defaults to the server's setting (settings.json, else 7424; a free port if that one is taken). */
  port?: number;
  /** dist/electron/preload.cjs */
  preloadPath: string;
  /** The page shown while the server starts or restarts (resources/status.html). */
  statusPagePath: string;
  /** Window icon (Linux/Windows). Defaults to none. */
  windowIconPath?: string;
  trayIconPath: string;
  platform?: NodeJS.Platform;
  homepage?: string;
  /** Passed to the supervisor (tests shorten backoff and timeouts). */
  supervisor?: Partial<Omit<SupervisorOptions, "launch" | "dataDir" | "uiToken" | "model" | "port">>;
  log?: (message: string) => void;
}

/** What `startShell` returns: handles for main.ts and tests. */
export interface Shell {
  readonly supervisor: ServerSupervisor;
  readonly token: string;
  window(): WindowLike | null;
  /** Resolves once the window has been pointed at the running server the first time. */
  readonly firstLoad: Promise<string>;
  /** Resolves when quit has finished stopping the server. */
  readonly quitDone: Promise<void>;
}

/** The page-facing view of a supervisor status (no pid). */
export function toPageStatus(status: ServerStatus): HearthServerStatus {
  return {
    state: status.state,
    url: status.state === "running" ? status.url : null,
    restarts: status.restarts,
    message: status.message,
  };
}

function originOf(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * Appends the server's log lines to `<userData>/logs/server.log`, rotating one old file past 10 MB.
 * Readable by the user only (folder 0700, files 0600): the lines name models, conversations and
 * providers.
 */
export function openServerLog(userData: string): fs.WriteStream | null {
  try {
    const dir = path.join(userData, "logs");
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, "server.log");
    if (fs.existsSync(file) && fs.statSync(file).size > 10 * 1024 * 1024) fs.renameSync(file, `${file}.1`);
    if (process.platform !== "win32")
      for (const f of [dir, file, `${file}.1`]) {
        if (fs.existsSync(f) && (fs.statSync(f).mode & 0o077) !== 0) fs.chmodSync(f, f === dir ? 0o700 : 0o600);
      }
    return fs.createWriteStream(file, { flags: "a", mode: 0o600 });
  } catch {
    return null;
  }
}

/** One line per guarding setting a change touches, in words, for the confirmation dialog. */
export function describeGuardedChanges(patch: Record<string, unknown>): string[] {
  const list = (v: unknown) => (Array.isArray(v) && v.length > 0 ? v.join(", ") : "none");
  const removed = "back to its default";
  const lines: Record<ProtectedKey, (v: unknown) => string> = {
    host: (v) =>
      v === null
        ? `Address: ${removed} (this computer only)`
        : `Address: ${String(v)}${isLoopbackHost(String(v)) ? " (this computer only)" : ": other computers on the network can connect"}`,
    insecure: (v) =>
      v === true
        ? "Allow connections from other computers without an API key: anyone who can reach Hearth can use it"
        : "Connections from other computers need an API key",
    corsOrigins: (v) =>
      Array.isArray(v) && v.includes("*")
        ? "Web pages allowed to call Hearth: every page (*)"
        : `Web pages allowed to call Hearth: ${v === null ? removed : list(v)}`,
    allowedHosts: (v) => `Extra host names Hearth answers to: ${v === null ? removed : list(v)}`,
    hfEndpoint: (v) =>
      `Hugging Face address: ${v === null ? removed : String(v)} (downloads, and your Hugging Face token, go there)`,
  };
  return PROTECTED_SETTINGS.filter((k) => k in patch).map((k) => lines[k](patch[k]));
}

/**
 * Runs the desktop app. Returns null when another instance already runs (this one then quits and
 * the first one's window comes to the front).
 */
export async function startShell(e: ShellElectron, options: ShellOptions): Promise<Shell | null> {
  const { app } = e;
  const log = options.log ?? (() => undefined);
  const platform = options.platform ?? process.platform;
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return null;
  }
  let win: WindowLike | null = null;
  const focusWindow = () => {
    if (!win) {
      createWindow();
      return;
    }
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  };
  app.on("second-instance", focusWindow);

  await app.whenReady();

  const userData = app.getPath("userData");
  // A fresh token per launch for the window's own requests; dies with the app. Other local tools
  // use the API as they would `hearth serve`'s: no key on loopback unless the person sets one.
  const token = crypto.randomBytes(32).toString("base64url");
  // Another per launch for the settings that guard the server: only this process and the server
  // hold it (the window never does), and it is sent only after the person confirmed a change.
  const settingsToken = crypto.randomBytes(32).toString("base64url");
  const secrets = loadSecretsKey(e.safeStorage, path.join(userData, "secrets.key"), platform);
  if (secrets.key === null) log(`secrets: ${secrets.reason}; remote API keys are kept in the server's 0600 file`);

  const supervisor = new ServerSupervisor({
    ...options.supervisor,
    launch: options.launcher,
    dataDir: options.dataDir,
    uiToken: token,
    model: options.model,
    ...(options.port === undefined ? {} : { port: options.port }),
    extraEnv: { ...options.supervisor?.extraEnv, ...secretsKeyEnv(secrets), HEARTH_SETTINGS_TOKEN: settingsToken },
  });
  const serverLog = openServerLog(userData);
  supervisor.on("log", (line) => serverLog?.write(`${line}\n`));

  let appOrigin: string | null = null;
  const appOriginNow = () => appOrigin;
  hardenSession(e.session, { appOrigin: appOriginNow });

  const openDataFolder = async () => {
    fs.mkdirSync(options.dataDir, { recursive: true });
    const err = await e.openPath(options.dataDir);
    if (err) log(`open data folder: ${err}`);
  };
  const saveSettings = async (patch: Record<string, unknown>): Promise<SaveSettingsResult> => {
    const { state, url } = supervisor.status;
    if (state !== "running" || !url) {
      const message = "The Hearth server is not running; try again once it is.";
      return { status: 503, body: JSON.stringify({ error: { message, type: "server_error", code: "not_ready" } }) };
    }
    const guarded = describeGuardedChanges(patch);
    if (guarded.length > 0) {
      const { response } = await e.showMessageBox(win, {
        type: "warning",
        title: options.appName,
        message: "Change how Hearth is protected?",
        detail: `${guarded.join("\n")}\n\nThese take effect when Hearth restarts. Change them only if you mean to.`,
        buttons: ["Cancel", "Change"],
        defaultId: 0,
        cancelId: 0,
      });
      if (response !== 1) return null;
    }
    const res = await fetch(`${url}/api/settings`, {
      method: "PUT",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${token}`,
        ...(guarded.length > 0 ? { [SETTINGS_TOKEN_HEADER]: settingsToken } : {}),
      },
      body: JSON.stringify(patch),
    });
    return { status: res.status, body: await res.text() };
  };
  const addMcpServer = async (server: Record<string, unknown>): Promise<SaveSettingsResult> => {
    const { state, url } = supervisor.status;
    if (state !== "running" || !url) {
      const message = "The Hearth server is not running; try again once it is.";
      return { status: 503, body: JSON.stringify({ error: { message, type: "server_error", code: "not_ready" } }) };
    }
    const args = Array.isArray(server.args) ? server.args.map(String) : [];
    const envNames = server.env && typeof server.env === "object" ? Object.keys(server.env) : [];
    const { response } = await e.showMessageBox(win, {
      type: "warning",
      title: options.appName,
      message: "Let Hearth run this command as an MCP server?",
      detail: `${String(server.command)} ${args.join(" ")}${envNames.length > 0 ? `\n\nWith the variables ${envNames.join(", ")}.` : ""}\n\nIt runs on this computer with your permissions whenever a chat uses its tools. Add it only if you trust it.`,
      buttons: ["Cancel", "Add"],
      defaultId: 0,
      cancelId: 0,
    });
    if (response !== 1) return null;
    const res = await fetch(`${url}/api/mcp/servers`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${token}`,
        [SETTINGS_TOKEN_HEADER]: settingsToken,
      },
      body: JSON.stringify(server),
    });
    return { status: res.status, body: await res.text() };
  };
  registerIpc(
    e.ipcMain,
    {
      bootstrap: () => ({ token, version: app.getVersion(), platform }),
      pickModelFile: async () => {
        const r = await e.showOpenDialog(win, {
          title: "Import a model",
          properties: ["openFile"],
          filters: [{ name: "GGUF models", extensions: ["gguf"] }],
        });
        return r.canceled ? null : (r.filePaths[0] ?? null);
      },
      openDataFolder,
      getServerStatus: () => toPageStatus(supervisor.status),
      saveSettings,
      addMcpServer,
    },
    { webContentsId: () => win?.webContents.id ?? null, appOrigin: appOriginNow },
  );

  let quitting = false;
  const actions: MenuActions = {
    showWindow: focusWindow,
    openDataFolder: () => void openDataFolder(),
    restartServer: () => void supervisor.restart().catch((err: unknown) => log(`restart: ${(err as Error).message}`)),
    openExternal: (url) => void e.openExternal(url),
    showAbout: () =>
      void e.showMessageBox(win, {
        type: "info",
        title: `About ${options.appName}`,
        message: `${options.appName} ${app.getVersion()}`,
        buttons: ["OK"],
      }),
    quit: () => app.quit(),
  };
  e.setApplicationMenu(
    e.buildMenu(
      buildAppMenu(
        { platform, isPackaged: app.isPackaged, appName: options.appName, homepage: options.homepage },
        actions,
      ),
    ),
  );
  const tray = e.createTray(options.trayIconPath);
  const updateTray = bindTray(tray, options.appName, actions, (t) => e.buildMenu(t));
  updateTray(supervisor.status);

  const windowStateFile = path.join(userData, "window-state.json");
  let flushWindowState = () => undefined as void;

  const showStatusPage = (message: string) => {
    if (!win) return;
    void win.loadFile(options.statusPagePath, { query: { message } }).catch(() => undefined);
  };

  const loadApp = (w: WindowLike) => {
    const { url } = supervisor.status;
    if (supervisor.status.state === "running" && url)
      void w.loadURL(`${url}/`).catch((err: unknown) => log(`load ${url}: ${(err as Error).message}`));
    else showStatusPage(supervisor.status.message);
  };

  function createWindow(): WindowLike {
    const displays = e.getAllDisplays();
    const primary = e.getPrimaryDisplay();
    const ordered = [primary, ...displays.filter((d) => d !== primary)];
    const state = loadWindowState(windowStateFile, ordered);
    const w = e.createWindow({
      ...(state.x !== undefined && state.y !== undefined ? { x: state.x, y: state.y } : {}),
      width: state.width,
      height: state.height,
      minWidth: MIN_WIDTH,
      minHeight: MIN_HEIGHT,
      show: false,
      title: options.appName,
      ...(options.windowIconPath ? { icon: options.windowIconPath } : {}),
      backgroundColor: "#1c1917",
      webPreferences: secureWebPreferences(options.preloadPath),
    });
    win = w;
    hardenWebContents(w.webContents, { appOrigin: appOriginNow, openExternal: (url) => e.openExternal(url) });
    flushWindowState = trackWindowState(w, windowStateFile);
    if (state.maximized) w.maximize();
    if (state.fullScreen) w.setFullScreen(true);
    w.once("ready-to-show", () => w.show());
    w.on("closed", () => {
      if (win === w) win = null;
    });
    loadApp(w);
    return w;
  }

  let resolveFirstLoad!: (url: string) => void;
  const firstLoad = new Promise<string>((resolve) => (resolveFirstLoad = resolve));
  let shownFailure = false;
  supervisor.on("status", (status) => {
    updateTray(status);
    win?.webContents.send(IpcChannel.ServerStatus, toPageStatus(status));
    if (quitting) return;
    if (status.state === "running" && status.url) {
      appOrigin = originOf(status.url);
      win?.setTitle(options.appName);
      if (win) {
        loadApp(win);
        resolveFirstLoad(status.url);
      }
      shownFailure = false;
    } else if (status.state === "restarting" || status.state === "failed") {
      win?.setTitle(`${options.appName}: ${status.message}`);
      showStatusPage(status.message);
      if (status.state === "failed" && !shownFailure) {
        shownFailure = true;
        const detail = supervisor.recentLog.slice(-8).join("\n");
        void e
          .showMessageBox(win, {
            type: "error",
            title: options.appName,
            message: status.message,
            detail,
            buttons: ["Restart Server", "Close"],
          })
          .then(({ response }) => {
            if (response === 0) actions.restartServer();
          });
      }
    }
  });

  let resolveQuitDone!: () => void;
  const quitDone = new Promise<void>((resolve) => (resolveQuitDone = resolve));
  let serverStopped = false;
  app.on("before-quit", (event) => {
    if (serverStopped) return;
    event.preventDefault();
    if (quitting) return;
    quitting = true;
    flushWindowState();
    void supervisor
      .stop()
      .then((info) => {
        if (info?.forced) log("the server did not stop in time and was killed");
      })
      .catch((err: unknown) => log(`stopping the server: ${(err as Error).message}`))
      .finally(() => {
        serverStopped = true;
        tray.destroy();
        serverLog?.end();
        resolveQuitDone();
        app.quit();
      });
  });
  app.on("window-all-closed", () => {
    // macOS apps stay alive without windows (the dock and tray reopen one).
    if (platform !== "darwin") app.quit();
  });
  app.on("activate", () => {
    if (!win && !quitting) createWindow();
  });

  // Started before the window so the status page opens with "Starting the server." at once.
  supervisor.start().catch((err: unknown) => log(`server: ${(err as Error).message}`));
  createWindow();

  return { supervisor, token, window: () => win, firstLoad, quitDone };
}
