/**
 * The preload script: runs sandboxed (CommonJS, only `electron` can be required) before the page
 * and exposes `window.hearth` through contextBridge. Named functions only; `ipcRenderer` itself
 * never reaches the page. Channel names are literals because a sandboxed preload cannot require
 * ipc.ts; the `IpcChannelName` type keeps them in step with the enum there.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from "electron";
import type { IpcChannelName } from "./ipc.js";
import type { HearthBridge, HearthServerStatus } from "./preload-api.js";

const channel = <C extends IpcChannelName>(name: C): C => name;

const boot = ipcRenderer.sendSync(channel("hearth:bootstrap")) as {
  token: string;
  version: string;
  platform: string;
} | null;

// The main process answers null when this page is not the app's own (it navigated away, or it is
// a frame): such a page gets no bridge at all.
if (boot) {
  const bridge: HearthBridge = {
    token: boot.token,
    version: boot.version,
    platform: boot.platform,
    pickModelFile: () => ipcRenderer.invoke(channel("hearth:pick-model-file")) as Promise<string | null>,
    openDataFolder: () => ipcRenderer.invoke(channel("hearth:open-data-folder")) as Promise<void>,
    saveSettings: (patch) =>
      ipcRenderer.invoke(channel("hearth:save-settings"), patch) as Promise<{ status: number; body: string } | null>,
    addMcpServer: (server) =>
      ipcRenderer.invoke(channel("hearth:add-mcp-server"), server) as Promise<{ status: number; body: string } | null>,
    onServerStatus(listener) {
      const onStatus = (_event: IpcRendererEvent, status: HearthServerStatus) => listener(status);
      ipcRenderer.on(channel("hearth:server-status"), onStatus);
      void (ipcRenderer.invoke(channel("hearth:get-server-status")) as Promise<HearthServerStatus>).then(
        listener,
        () => undefined,
      );
      return () => {
        ipcRenderer.removeListener(channel("hearth:server-status"), onStatus);
      };
    },
  };
  contextBridge.exposeInMainWorld("hearth", bridge);
}
