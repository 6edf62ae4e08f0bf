/**
 * The IPC contract: every call is refused unless it comes from the app window's top frame on the
 * app's origin with valid arguments; and the preload script exposes named functions only.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  checkCall,
  IpcArgs,
  IpcChannel,
  IpcRefusedError,
  registerIpc,
  type IpcEventLike,
  type IpcHandlers,
  type IpcMainLike,
} from "../../electron/ipc.js";
import type { HearthBridge, HearthServerStatus } from "../../electron/preload-api.js";
import { repoRoot } from "../helpers/electron-server.js";

const APP = "http://127.0.0.1:7424";
const WINDOW_ID = 7;
const trust = { webContentsId: () => WINDOW_ID, appOrigin: () => APP };
const topFrame = (url = `${APP}/`): IpcEventLike => ({ sender: { id: WINDOW_ID }, senderFrame: { url, parent: null } });

/** A fake of ipcMain that records handlers, so tests call them as Electron would. */
function fakeIpcMain() {
  const handlers = new Map<string, (event: IpcEventLike, ...args: unknown[]) => unknown>();
  const listeners = new Map<string, (event: IpcEventLike & { returnValue: unknown }, ...args: unknown[]) => void>();
  const ipcMain: IpcMainLike = {
    handle: (channel, listener) => void handlers.set(channel, listener),
    on: (channel, listener) => listeners.set(channel, listener),
  };
  return {
    ipcMain,
    invoke: async (channel: string, event: IpcEventLike, ...args: unknown[]) => handlers.get(channel)!(event, ...args),
    sendSync: (channel: string, event: IpcEventLike, ...args: unknown[]) => {
      const e = { ...event, returnValue: undefined as unknown };
      listeners.get(channel)!(e, ...args);
      return e.returnValue;
    },
    channels: () => [...handlers.keys(), ...listeners.keys()].sort(),
  };
}

const status: HearthServerStatus = { state: "running", url: APP, restarts: 0, message: "The server is running." };
function handlers(calls: string[]): IpcHandlers {
  return {
    bootstrap: () => ({ token: "t".repeat(43), version: "0.1.0", platform: "linux" }),
    pickModelFile: async () => (calls.push("pick"), "/models/tiny.gguf"),
    openDataFolder: async () => void calls.push("open"),
    getServerStatus: () => status,
    saveSettings: async (patch) => (calls.push(`save ${JSON.stringify(patch)}`), { status: 200, body: "{}" }),
    addMcpServer: async (server) => (calls.push(`mcp ${JSON.stringify(server)}`), { status: 201, body: "{}" }),
  };
}

describe("IPC checks", () => {
  test("every page -> main channel is registered, and nothing else", () => {
    const f = fakeIpcMain();
    registerIpc(f.ipcMain, handlers([]), trust);
    const pageToMain = Object.values(IpcChannel).filter((c) => c !== IpcChannel.ServerStatus);
    assert.deepEqual(f.channels(), [...pageToMain].sort());
    assert.deepEqual(Object.keys(IpcArgs).sort(), [...pageToMain].sort());
  });

  test("the app window gets answers", async () => {
    const calls: string[] = [];
    const f = fakeIpcMain();
    registerIpc(f.ipcMain, handlers(calls), trust);
    assert.deepEqual(f.sendSync(IpcChannel.Bootstrap, topFrame()), {
      token: "t".repeat(43),
      version: "0.1.0",
      platform: "linux",
    });
    assert.equal(await f.invoke(IpcChannel.PickModelFile, topFrame(`${APP}/models`)), "/models/tiny.gguf");
    await f.invoke(IpcChannel.OpenDataFolder, topFrame());
    assert.deepEqual(await f.invoke(IpcChannel.GetServerStatus, topFrame()), status);
    assert.deepEqual(await f.invoke(IpcChannel.SaveSettings, topFrame(), { threads: 2 }), { status: 200, body: "{}" });
    assert.deepEqual(calls, ["pick", "open", 'save {"threads":2}']);
  });

  test("other origins, frames, windows and extra arguments are refused before the handler runs", async () => {
    const calls: string[] = [];
    const f = fakeIpcMain();
    registerIpc(f.ipcMain, handlers(calls), trust);
    const refused: [string, IpcEventLike, unknown[]][] = [
      ["navigated away", topFrame("https://evil.example/"), []],
      ["other port", topFrame("http://127.0.0.1:9999/"), []],
      ["local file", topFrame("file:///tmp/x.html"), []],
      ["subframe", { sender: { id: WINDOW_ID }, senderFrame: { url: `${APP}/`, parent: {} } }, []],
      ["other window", { sender: { id: WINDOW_ID + 1 }, senderFrame: { url: `${APP}/`, parent: null } }, []],
      ["frame gone", { sender: { id: WINDOW_ID }, senderFrame: null }, []],
      ["extra argument", topFrame(), ["/etc/passwd"]],
    ];
    for (const [why, event, args] of refused) {
      await assert.rejects(f.invoke(IpcChannel.PickModelFile, event, ...args), IpcRefusedError, why);
      await assert.rejects(f.invoke(IpcChannel.OpenDataFolder, event, ...args), IpcRefusedError, why);
      assert.equal(f.sendSync(IpcChannel.Bootstrap, event, ...args), null, `bootstrap: ${why}`);
      await assert.rejects(
        f.invoke(IpcChannel.SaveSettings, event, { host: "0.0.0.0" }, ...args),
        IpcRefusedError,
        why,
      );
    }
    // Saving settings takes exactly one object.
    for (const args of [[], ["host=0.0.0.0"], [["host"]], [null], [{}, {}]])
      await assert.rejects(
        f.invoke(IpcChannel.SaveSettings, topFrame(), ...args),
        IpcRefusedError,
        JSON.stringify(args),
      );
    assert.deepEqual(calls, []);
  });

  test("nothing is trusted before the server has an origin", () => {
    assert.throws(
      () =>
        checkCall(IpcChannel.GetServerStatus, topFrame(), [], {
          webContentsId: () => WINDOW_ID,
          appOrigin: () => null,
        }),
      IpcRefusedError,
    );
  });
});

// ---- the preload script, run under Node with a fake of the `electron` module it requires ----

const preloadFile = path.join(repoRoot, "electron", "preload.cts");
const requireHere = createRequire(import.meta.url);

interface FakeRenderer {
  exposed: Map<string, unknown>;
  invoked: string[];
  listeners: Map<string, ((e: unknown, ...a: unknown[]) => void)[]>;
}

function runPreload(bootstrap: unknown): FakeRenderer {
  const r: FakeRenderer = { exposed: new Map(), invoked: [], listeners: new Map() };
  const fakeElectron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => r.exposed.set(key, api) },
    ipcRenderer: {
      sendSync: (channel: string) => (channel === IpcChannel.Bootstrap ? bootstrap : undefined),
      invoke: async (channel: string) => {
        r.invoked.push(channel);
        return channel === IpcChannel.GetServerStatus ? status : null;
      },
      on: (channel: string, l: (e: unknown, ...a: unknown[]) => void) =>
        r.listeners.set(channel, [...(r.listeners.get(channel) ?? []), l]),
      removeListener: (channel: string, l: (e: unknown, ...a: unknown[]) => void) =>
        r.listeners.set(
          channel,
          (r.listeners.get(channel) ?? []).filter((x) => x !== l),
        ),
    },
  };
  // Put the fake where require("electron") finds it, so Electron's real index.js (which would try
  // to download a binary) never runs.
  const electronPath = createRequire(preloadFile).resolve("electron");
  const cache = requireHere.cache as Record<string, unknown>;
  cache[electronPath] = { id: electronPath, filename: electronPath, loaded: true, exports: fakeElectron };
  delete cache[requireHere.resolve(preloadFile)];
  try {
    requireHere(preloadFile);
  } finally {
    delete cache[electronPath];
  }
  return r;
}

describe("preload", () => {
  test("exposes window.hearth with the token and named functions only", async () => {
    const r = runPreload({ token: "secret-token-xyz-0123456789", version: "1.2.3", platform: "linux" });
    assert.deepEqual([...r.exposed.keys()], ["hearth"]);
    const bridge = r.exposed.get("hearth") as HearthBridge;
    assert.deepEqual(Object.keys(bridge).sort(), [
      "addMcpServer",
      "onServerStatus",
      "openDataFolder",
      "pickModelFile",
      "platform",
      "saveSettings",
      "token",
      "version",
    ]);
    assert.equal(bridge.token, "secret-token-xyz-0123456789");
    for (const v of Object.values(bridge)) {
      assert.ok(typeof v === "string" || typeof v === "function", "no objects (like ipcRenderer) leak to the page");
    }
    await bridge.pickModelFile();
    await bridge.openDataFolder();
    await bridge.saveSettings({ threads: 2 });
    await bridge.addMcpServer({ name: "x", command: "node" });
    assert.deepEqual(r.invoked, [
      IpcChannel.PickModelFile,
      IpcChannel.OpenDataFolder,
      IpcChannel.SaveSettings,
      IpcChannel.AddMcpServer,
    ]);
  });

  test("onServerStatus delivers the current status and pushes, and unsubscribes", async () => {
    const r = runPreload({ token: "secret-token-xyz-0123456789", version: "1.2.3", platform: "linux" });
    const bridge = r.exposed.get("hearth") as HearthBridge;
    const seen: HearthServerStatus[] = [];
    const stop = bridge.onServerStatus((s) => seen.push(s));
    await new Promise((resolve) => setImmediate(resolve));
    const pushed: HearthServerStatus = {
      state: "restarting",
      url: null,
      restarts: 1,
      message: "The Hearth server was killed by SIGKILL.",
    };
    for (const l of r.listeners.get(IpcChannel.ServerStatus) ?? []) l({ sender: "ignored" }, pushed);
    assert.deepEqual(seen, [status, pushed]);
    stop();
    assert.equal(r.listeners.get(IpcChannel.ServerStatus)?.length, 0);
  });

  test("a page the main process refuses gets no bridge at all", () => {
    const r = runPreload(null);
    assert.equal(r.exposed.size, 0);
  });

  test("the preload requires nothing but electron at run time (a sandboxed preload cannot)", () => {
    const source = fs.readFileSync(preloadFile, "utf8");
    const runtimeImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*from\s+"([^"]+)"/gm)].map((m) => m[1]);
    assert.deepEqual(runtimeImports, ["electron"]);
    assert.ok(!/\brequire\(/.test(source));
  });
});
