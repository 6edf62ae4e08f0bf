/**
 * Electron's entry point: wiring only. It hands the real Electron modules to the shell (shell.ts,
 * where the behaviour lives and is tested) and runs the server in a utility process.
 */
import path from "node:path";
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  safeStorage,
  screen,
  session,
  shell,
  Tray,
  utilityProcess,
} from "electron";
import { shellConfig } from "./config.js";
import { utilityLauncher } from "./server-process.js";
import { startShell, type ShellElectron } from "./shell.js";
import { startAutoUpdate } from "./updater.js";

const APP_NAME = "Hearth";
const config = shellConfig();
if (config.userDataDir) app.setPath("userData", config.userDataDir);
app.setName(APP_NAME);
if (process.platform === "win32") app.setAppUserModelId("app.hearth.desktop");

// app.getAppPath() is the folder with package.json: the checkout, or resources/app.asar when packaged.
const root = app.getAppPath();
const resources = path.join(root, "resources");
const log = (message: string) => console.error(`[hearth] ${message}`);

const electronApi: ShellElectron = {
  app,
  createWindow: (options) => new BrowserWindow(options),
  createTray: (icon) => new Tray(icon),
  buildMenu: (template) => Menu.buildFromTemplate(template),
  setApplicationMenu: (menu) => Menu.setApplicationMenu(menu as Menu),
  openExternal: (url) => shell.openExternal(url),
  openPath: (folder) => shell.openPath(folder),
  showOpenDialog: (win, options) =>
    win ? dialog.showOpenDialog(win as BrowserWindow, options) : dialog.showOpenDialog(options),
  showMessageBox: (win, options) =>
    win ? dialog.showMessageBox(win as BrowserWindow, options) : dialog.showMessageBox(options),
  safeStorage,
  getAllDisplays: () => screen.getAllDisplays(),
  getPrimaryDisplay: () => screen.getPrimaryDisplay(),
  ipcMain,
  get session() {
    return session.defaultSession;
  },
};

const shellReady = startShell(electronApi, {
  appName: APP_NAME,
  launcher: utilityLauncher(utilityProcess, {
    entry: path.join(root, "dist", "server", "cli.js"),
    // The load probe and the template checker run as utility processes of main (child-host.ts).
    children: { serverDir: path.join(root, "dist", "server") },
  }),
  dataDir: config.dataDir,
  model: config.model,
  port: config.port,
  preloadPath: path.join(root, "dist", "electron", "preload.cjs"),
  statusPagePath: path.join(resources, "status.html"),
  windowIconPath: path.join(resources, "icons", "512x512.png"),
  trayIconPath: path.join(resources, "icons", process.platform === "darwin" ? "trayTemplate.png" : "tray.png"),
  log,
});

void shellReady.then(async (started) => {
  if (!started) return;
  const result = await startAutoUpdate({
    isPackaged: app.isPackaged,
    disabled: config.disableUpdates,
    load: async () => {
      const mod = (await import("electron-updater")) as unknown as {
        autoUpdater?: unknown;
        default?: { autoUpdater: unknown };
      };
      return (mod.autoUpdater ?? mod.default?.autoUpdater) as Awaited<
        ReturnType<Parameters<typeof startAutoUpdate>[0]["load"]>
      >;
    },
    log,
  });
  log(`auto-update: ${result}`);
});
