/**
 * The desktop shell's lifecycle under Node: fakes stand in for Electron's API surface only (app,
 * BrowserWindow, Tray, Menu, dialog, shell, safeStorage, ipcMain, session); the server the shell
 * supervises is the REAL Hearth server in a child process.
 */
import crypto from "node:crypto";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { IpcChannel, type IpcEventLike } from "../../electron/ipc.js";
import { findMenuItem, type MenuItemSpec } from "../../electron/menu.js";
import type { HearthServerStatus } from "../../electron/preload-api.js";
import { CONTENT_SECURITY_POLICY, type PreventableEvent, type SessionLike } from "../../electron/security.js";
import {
  startShell,
  type Shell,
  type ShellElectron,
  type WindowLike,
  type WindowOptions,
} from "../../electron/shell.js";
import { isAlive, realServerLauncher, serverTestEnv, tempDir, waitGone } from "../helpers/electron-server.js";

const dirs: string[] = [];
const shells: { shell: Shell; app: FakeApp }[] = [];
after(async () => {
  for (const { shell, app } of shells) {
    app.quit();
    await shell.quitDone;
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Electron's single-instance lock is per app; tests share one between two fake apps. */
interface Lock {
  holder: FakeApp | null;
}

class FakeApp extends EventEmitter {
  readonly isPackaged = false;
  quitCalls = 0;
  quitted = false;
  constructor(
    private readonly lock: Lock,
    private readonly userData: string,
  ) {
    super();
  }
  requestSingleInstanceLock(): boolean {
    if (this.lock.holder && this.lock.holder !== this) {
      this.lock.holder.emit("second-instance");
      return false;
    }
    this.lock.holder = this;
    return true;
  }
  whenReady() {
    return Promise.resolve();
  }
  /** Like Electron: before-quit may be prevented; otherwise the app ends. */
  quit() {
    this.quitCalls++;
    let prevented = false;
    const event: PreventableEvent = { preventDefault: () => (prevented = true) };
    this.emit("before-quit", event);
    if (!prevented) this.quitted = true;
  }
  exit() {
    this.quitted = true;
  }
  getPath() {
    return this.userData;
  }
  getVersion() {
    return "0.1.0";
  }
}

class FakeWebContents extends EventEmitter {
  static nextId = 1;
  readonly id = FakeWebContents.nextId++;
  url = "";
  sent: [string, unknown][] = [];
  setWindowOpenHandler() {}
  send(channel: string, payload: unknown) {
    this.sent.push([channel, payload]);
  }
  getURL() {
    return this.url;
  }
}

class FakeWindow extends EventEmitter implements WindowLike {
  readonly webContents = new FakeWebContents();
  loads: string[] = [];
  statusPages: string[] = [];
  shown = 0;
  focused = 0;
  restored = 0;
  minimized = false;
  title = "";
  constructor(readonly options: WindowOptions) {
    super();
  }
  async loadURL(url: string) {
    this.loads.push(url);
    this.webContents.url = url;
    this.emit("did-load");
  }
  async loadFile(file: string, options?: { query?: Record<string, string> }) {
    this.statusPages.push(options?.query?.message ?? "");
    this.webContents.url = `file://${file}`;
    this.emit("did-load");
  }
  show() {
    this.shown++;
    this.minimized = false;
  }
  focus() {
    this.focused++;
  }
  restore() {
    this.restored++;
  }
  isMinimized() {
    return this.minimized;
  }
  maximize() {}
  setFullScreen() {}
  setTitle(t: string) {
    this.title = t;
  }
  getNormalBounds() {
    return { x: 0, y: 0, width: this.options.width, height: this.options.height };
  }
  isMaximized() {
    return false;
  }
  isFullScreen() {
    return false;
  }
  isDestroyed() {
    return false;
  }
}

function fakeElectron(app: FakeApp, picked: string | null = "/models/picked.gguf") {
  const windows: FakeWindow[] = [];
  const tray = Object.assign(new EventEmitter(), {
    tooltip: "",
    menu: [] as MenuItemSpec[],
    destroyed: false,
    setToolTip(t: string) {
      this.tooltip = t;
    },
    setContextMenu(m: unknown) {
      this.menu = m as MenuItemSpec[];
    },
    destroy() {
      this.destroyed = true;
    },
  });
  const ipc = {
    handlers: new Map<string, (e: IpcEventLike, ...a: unknown[]) => unknown>(),
    listeners: new Map<string, (e: IpcEventLike & { returnValue: unknown }, ...a: unknown[]) => void>(),
  };
  let onHeaders: Parameters<SessionLike["webRequest"]["onHeadersReceived"]>[0] | null = null;
  const boxes: { message: string; detail?: string; buttons: string[] }[] = [];
  /** The button the person presses in the next dialogs. */
  const dialog = { response: 1 };
  const opened: string[] = [];
  let appMenu: unknown = null;
  const keychain = crypto.randomBytes(32);
  const e: ShellElectron = {
    app,
    createWindow: (o) => {
      const w = new FakeWindow(o);
      windows.push(w);
      return w;
    },
    createTray: () => tray,
    buildMenu: (t) => t,
    setApplicationMenu: (m) => void (appMenu = m),
    openExternal: async (url) => void opened.push(url),
    openPath: async (p) => (opened.push(p), ""),
    showOpenDialog: async () => (picked ? { canceled: false, filePaths: [picked] } : { canceled: true, filePaths: [] }),
    showMessageBox: async (_w, o) => (boxes.push(o), { response: dialog.response }),
    safeStorage: {
      isEncryptionAvailable: () => true,
      // Reversible with the fake keychain key; what matters here is that the shell round-trips it.
      encryptString: (s) => Buffer.from(Buffer.from(s).map((b, i) => b ^ keychain[i % 32]!)),
      decryptString: (b) => Buffer.from(b.map((x, i) => x ^ keychain[i % 32]!)).toString(),
    },
    getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }],
    getPrimaryDisplay: () => ({ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }),
    ipcMain: { handle: (c, l) => void ipc.handlers.set(c, l), on: (c, l) => ipc.listeners.set(c, l) },
    session: {
      webRequest: { onHeadersReceived: (l) => void (onHeaders = l) },
      setPermissionRequestHandler: () => undefined,
      setPermissionCheckHandler: () => undefined,
    },
  };
  const fromWindow = (w: FakeWindow): IpcEventLike => ({
    sender: { id: w.webContents.id },
    senderFrame: { url: w.webContents.url, parent: null },
  });
  return {
    e,
    windows,
    tray,
    boxes,
    dialog,
    opened,
    appMenu: () => appMenu as MenuItemSpec[],
    bootstrap: (w: FakeWindow) => {
      const ev = { ...fromWindow(w), returnValue: undefined as unknown };
      ipc.listeners.get(IpcChannel.Bootstrap)!(ev);
      return ev.returnValue as { token: string } | null;
    },
    invoke: (w: FakeWindow, channel: string, ...args: unknown[]) => ipc.handlers.get(channel)!(fromWindow(w), ...args),
    headersFor: (url: string) => {
      let out: unknown;
      onHeaders!({ url, responseHeaders: {} }, (r) => (out = r));
      return out as { responseHeaders?: Record<string, string[]> };
    },
  };
}

async function launch(options: { lock?: Lock; extraArgs?: string[]; maxCrashes?: number } = {}) {
  const userData = tempDir("hearth-shell-user-");
  const dataDir = tempDir("hearth-shell-data-");
  dirs.push(userData, dataDir);
  const app = new FakeApp(options.lock ?? { holder: null }, userData);
  const fake = fakeElectron(app);
  const shell = await startShell(fake.e, {
    appName: "Hearth",
    launcher: realServerLauncher(),
    dataDir,
    // Side by side, and a developer may be running Hearth on the default port.
    port: 0,
    preloadPath: "/app/dist/electron/preload.cjs",
    statusPagePath: "/app/resources/status.html",
    trayIconPath: "/app/resources/icons/tray.png",
    platform: "linux",
    supervisor: {
      baseEnv: serverTestEnv(),
      backoffInitialMs: 50,
      maxCrashes: options.maxCrashes ?? 5,
      extraArgs: options.extraArgs ?? [],
    },
  });
  if (shell) shells.push({ shell, app });
  return { app, shell, fake, userData, dataDir };
}

const statusesSent = (w: FakeWindow) =>
  w.webContents.sent.filter(([c]) => c === IpcChannel.ServerStatus).map(([, s]) => s as HearthServerStatus);

describe("desktop shell with the real server", () => {
  test("launch -> status page, then the UI from the server; the API answers local tools and the window alike", async () => {
    const { shell, fake, userData } = await launch();
    assert.ok(shell);
    const win = fake.windows[0]!;
    assert.equal(fake.windows.length, 1);
    assert.equal(win.options.webPreferences.sandbox, true);
    assert.equal(win.options.webPreferences.contextIsolation, true);
    assert.equal(win.options.webPreferences.nodeIntegration, false);
    assert.deepEqual(
      win.statusPages,
      ["Starting the server."],
      "the window shows the status page while the server starts",
    );

    const url = await shell.firstLoad;
    assert.deepEqual(win.loads, [`${url}/`]);
    win.emit("ready-to-show");
    assert.equal(win.shown, 1);

    const boot = fake.bootstrap(win);
    assert.equal(boot?.token, shell.token);
    // As with `hearth serve`: no key on loopback unless the person sets one (then the token still works:
    // electron-server-process.test.ts).
    assert.equal((await fetch(`${url}/v1/models`)).status, 200);
    assert.equal(
      (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${boot?.token}` } })).status,
      200,
    );
    assert.equal(await fake.invoke(win, IpcChannel.PickModelFile), "/models/picked.gguf");

    assert.deepEqual(fake.headersFor(`${url}/`).responseHeaders?.["Content-Security-Policy"], [
      CONTENT_SECURITY_POLICY,
    ]);
    assert.equal(fake.tray.tooltip, `Hearth: Server running at ${url}`);
    assert.ok(findMenuItem(fake.appMenu(), "restart-server"), "the application menu was set");
    assert.ok(fs.existsSync(path.join(userData, "secrets.key")), "the secrets key was created through safeStorage");
    assert.ok(
      fs.readFileSync(path.join(userData, "logs", "server.log"), "utf8").includes(url),
      "the server's output is logged",
    );
  });

  test("kill -9 the server -> the window shows why and the UI comes back; quit stops the server", async () => {
    const { app, shell, fake } = await launch();
    const url = await shell!.firstLoad;
    const win = fake.windows[0]!;
    const pid = shell!.supervisor.status.pid!;
    const reloaded = new Promise<void>((resolve) => win.on("did-load", () => win.loads.length === 2 && resolve()));
    process.kill(pid, "SIGKILL");
    await reloaded;
    assert.ok(
      win.statusPages.some((m) => /killed by SIGKILL/.test(m)),
      `status pages: ${JSON.stringify(win.statusPages)}`,
    );
    assert.deepEqual(win.loads, [`${url}/`, `${url}/`]);
    const sent = statusesSent(win);
    assert.ok(
      sent.some((s) => s.state === "restarting" && /SIGKILL/.test(s.message)),
      "the page was told too",
    );
    assert.equal(sent.at(-1)?.state, "running");
    assert.equal(sent.at(-1)?.restarts, 1);

    const newPid = shell!.supervisor.status.pid!;
    assert.ok(isAlive(newPid));
    app.quit();
    assert.equal(app.quitted, false, "quit waits for the server");
    await shell!.quitDone;
    assert.equal(app.quitted, true);
    assert.equal(fake.tray.destroyed, true);
    await waitGone(newPid);
    assert.equal(isAlive(pid), false);
  });

  test("the guarding settings change only through the app, after the person confirms in a native dialog", async () => {
    const { shell, fake, dataDir } = await launch();
    const url = await shell!.firstLoad;
    const win = fake.windows[0]!;
    const file = path.join(dataDir, "settings.json");
    const readSaved = () => (fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as object) : {});
    const plain = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}/api/settings`, {
        method: "PUT",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      });

    // Not through the API, not even with the window's own token.
    const token = fake.bootstrap(win)!.token;
    for (const headers of [{}, { authorization: `Bearer ${token}` }] as Record<string, string>[]) {
      const res = await plain({ corsOrigins: ["*"] }, headers);
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, "protected_setting");
    }

    // The person cancels: nothing is sent.
    fake.dialog.response = 0;
    const patch = { corsOrigins: ["http://localhost:5173"], host: "0.0.0.0", apiKey: "a-long-key-for-lan", threads: 3 };
    assert.equal(await fake.invoke(win, IpcChannel.SaveSettings, patch), null);
    assert.deepEqual(readSaved(), {});
    const box = fake.boxes.at(-1)!;
    assert.equal(box.message, "Change how Hearth is protected?");
    assert.match(box.detail ?? "", /Address: 0\.0\.0\.0: other computers on the network can connect/);
    assert.match(box.detail ?? "", /Web pages allowed to call Hearth: http:\/\/localhost:5173/);
    assert.deepEqual(box.buttons, ["Cancel", "Change"]);

    // The person confirms: saved, with the server's own checks.
    fake.dialog.response = 1;
    const saved = (await fake.invoke(win, IpcChannel.SaveSettings, patch)) as { status: number; body: string };
    assert.equal(saved.status, 200, saved.body);
    assert.ok(!saved.body.includes("a-long-key-for-lan"));
    assert.deepEqual(readSaved(), { ...patch });
    const refused = (await fake.invoke(win, IpcChannel.SaveSettings, { host: "0.0.0.0", apiKey: null })) as {
      status: number;
      body: string;
    };
    assert.equal(refused.status, 400, "a bind beyond loopback still needs a key");

    // Settings that guard nothing need no dialog.
    const dialogs = fake.boxes.length;
    const other = (await fake.invoke(win, IpcChannel.SaveSettings, { threads: 2 })) as { status: number };
    assert.equal(other.status, 200);
    assert.equal(fake.boxes.length, dialogs);
  });

  test("a second launch quits at once and brings the first window forward", async () => {
    const lock: Lock = { holder: null };
    const first = await launch({ lock });
    await first.shell!.firstLoad;
    const win = first.fake.windows[0]!;
    win.minimized = true;
    const second = await launch({ lock });
    assert.equal(second.shell, null);
    assert.equal(second.app.quitted, true);
    assert.equal(second.fake.windows.length, 0, "the second instance opened no window and started no server");
    assert.equal(win.restored, 1);
    assert.ok(win.focused >= 1 && win.shown >= 1);
  });

  test("a server that keeps crashing ends in a dialog and the reason on the status page", async () => {
    const { shell, fake } = await launch({ extraArgs: ["--gpu", "not-a-backend"], maxCrashes: 1 });
    const win = fake.windows[0]!;
    while (shell!.supervisor.status.state !== "failed") await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setImmediate(r));
    assert.equal(fake.boxes.length, 1);
    assert.match(fake.boxes[0]!.message, /crashed 2 times/);
    assert.deepEqual(fake.boxes[0]!.buttons, ["Restart Server", "Close"]);
    assert.match(win.statusPages.at(-1) ?? "", /crashed 2 times/);
    assert.match(win.title, /^Hearth: /);
    assert.equal(win.loads.length, 0, "the UI was never loaded from a server that never ran");
    assert.equal(findMenuItem(fake.tray.menu, "restart-server")?.label, "Start Server");
  });
});
