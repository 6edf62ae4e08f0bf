/**
 * The IPC contract between the preload script and the main process: one enum of channels, a zod
 * schema for each payload, and one registration function that re-validates every payload and
 * checks the sender frame before any handler runs. The page never sees `ipcRenderer`; the preload
 * exposes named functions only (see preload-api.ts).
 */
import { z } from "zod";
import type { HearthServerStatus } from "./preload-api.js";

/** Every IPC channel Hearth uses. The preload's string literals are type-checked against these. */
export const IpcChannel = {
  /** sendSync, page -> main, once per page load: the token, version and platform. */
  Bootstrap: "hearth:bootstrap",
  /** invoke: native GGUF file picker. */
  PickModelFile: "hearth:pick-model-file",
  /** invoke: reveal the data folder. */
  OpenDataFolder: "hearth:open-data-folder",
  /** invoke: the supervised server's current status. */
  GetServerStatus: "hearth:get-server-status",
  /**
   * invoke: PUT /api/settings through the main process, which asks the person in a native dialog
   * before any setting that guards the server changes, then sends the per-launch settings token.
   */
  SaveSettings: "hearth:save-settings",
  /**
   * invoke: POST /api/mcp/servers for a server that runs a command, through the main process,
   * which shows the person the command in a native dialog first, then sends the settings token.
   */
  AddMcpServer: "hearth:add-mcp-server",
  /** main -> page push: a server status change. */
  ServerStatus: "hearth:server-status",
} as const;

export type IpcChannelName = (typeof IpcChannel)[keyof typeof IpcChannel];

const noArgs = z.tuple([]);

/** Arguments each page -> main channel accepts; anything else is refused. */
export const IpcArgs = {
  [IpcChannel.Bootstrap]: noArgs,
  [IpcChannel.PickModelFile]: noArgs,
  [IpcChannel.OpenDataFolder]: noArgs,
  [IpcChannel.GetServerStatus]: noArgs,
  // A settings patch: the server validates its keys and values; this only bounds its shape.
  [IpcChannel.SaveSettings]: z.tuple([z.record(z.string().max(64), z.unknown())]),
  // An MCP server to add: the server validates it; this only bounds its shape.
  [IpcChannel.AddMcpServer]: z.tuple([z.record(z.string().max(64), z.unknown())]),
} as const;

/** What saving settings through the main process answers: the server's reply, or null when the person cancelled. */
export const SaveSettingsResultSchema = z
  .strictObject({ status: z.number().int().min(100).max(599), body: z.string() })
  .nullable();
export type SaveSettingsResult = z.infer<typeof SaveSettingsResultSchema>;

export const BootstrapSchema = z.strictObject({
  token: z.string().min(16),
  version: z.string().min(1),
  platform: z.string().min(1),
});
export type Bootstrap = z.infer<typeof BootstrapSchema>;

export const ServerStatusSchema = z.strictObject({
  state: z.enum(["stopped", "starting", "running", "restarting", "failed", "stopping"]),
  url: z.string().nullable(),
  restarts: z.number().int().min(0),
  message: z.string(),
});
// Keeps the zod schema and the renderer-facing interface in step.
const _statusMatches: z.infer<typeof ServerStatusSchema> extends HearthServerStatus
  ? HearthServerStatus extends z.infer<typeof ServerStatusSchema>
    ? true
    : never
  : never = true;
void _statusMatches;

/** The part of an Electron IPC event the checks read. */
export interface IpcEventLike {
  readonly sender: { readonly id: number };
  readonly senderFrame: { readonly url: string; readonly parent: unknown } | null;
}

/** The part of Electron's `ipcMain` the shell uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => unknown): void;
  on(channel: string, listener: (event: IpcEventLike & { returnValue: unknown }, ...args: unknown[]) => void): unknown;
}

/** What the main process does for each page -> main channel. */
export interface IpcHandlers {
  bootstrap(): Bootstrap;
  pickModelFile(): Promise<string | null>;
  openDataFolder(): Promise<void>;
  getServerStatus(): HearthServerStatus;
  saveSettings(patch: Record<string, unknown>): Promise<SaveSettingsResult>;
  addMcpServer(server: Record<string, unknown>): Promise<SaveSettingsResult>;
}

export interface TrustedSender {
  /** The webContents id of the app window; other senders are refused. */
  webContentsId(): number | null;
  /** The origin the app page is served from (`http://127.0.0.1:<port>`), or null before the server is up. */
  appOrigin(): string | null;
}

/** Thrown to the page (as a rejected promise) when a call is refused. */
export class IpcRefusedError extends Error {
  override name = "IpcRefusedError";
}

/**
 * True when the event comes from the app window's top frame showing the app's own origin: a page
 * that navigated elsewhere, an iframe or another window gets nothing.
 */
export function isTrustedSender(event: IpcEventLike, trust: TrustedSender): boolean {
  const frame = event.senderFrame;
  const origin = trust.appOrigin();
  if (!frame || !origin) return false;
  if (event.sender.id !== trust.webContentsId()) return false;
  if (frame.parent !== null && frame.parent !== undefined) return false;
  try {
    return new URL(frame.url).origin === origin;
  } catch {
    return false;
  }
}

/** Validates and authorizes one call; throws IpcRefusedError otherwise. */
export function checkCall(
  channel: keyof typeof IpcArgs,
  event: IpcEventLike,
  args: unknown[],
  trust: TrustedSender,
): void {
  if (!isTrustedSender(event, trust))
    throw new IpcRefusedError(`${channel}: refused, the sender is not the Hearth window.`);
  const parsed = IpcArgs[channel].safeParse(args);
  if (!parsed.success) throw new IpcRefusedError(`${channel}: invalid arguments: ${z.prettifyError(parsed.error)}`);
}

/** Registers every page -> main channel with its checks. */
export function registerIpc(ipcMain: IpcMainLike, handlers: IpcHandlers, trust: TrustedSender): void {
  ipcMain.on(IpcChannel.Bootstrap, (event, ...args) => {
    try {
      checkCall(IpcChannel.Bootstrap, event, args, trust);
      event.returnValue = BootstrapSchema.parse(handlers.bootstrap());
    } catch {
      // sendSync cannot reject: the preload reads null as "no bridge".
      event.returnValue = null;
    }
  });
  ipcMain.handle(IpcChannel.PickModelFile, async (event, ...args) => {
    checkCall(IpcChannel.PickModelFile, event, args, trust);
    return handlers.pickModelFile();
  });
  ipcMain.handle(IpcChannel.OpenDataFolder, async (event, ...args) => {
    checkCall(IpcChannel.OpenDataFolder, event, args, trust);
    await handlers.openDataFolder();
  });
  ipcMain.handle(IpcChannel.GetServerStatus, (event, ...args) => {
    checkCall(IpcChannel.GetServerStatus, event, args, trust);
    return ServerStatusSchema.parse(handlers.getServerStatus());
  });
  ipcMain.handle(IpcChannel.SaveSettings, async (event, ...args) => {
    checkCall(IpcChannel.SaveSettings, event, args, trust);
    return SaveSettingsResultSchema.parse(await handlers.saveSettings(args[0] as Record<string, unknown>));
  });
  ipcMain.handle(IpcChannel.AddMcpServer, async (event, ...args) => {
    checkCall(IpcChannel.AddMcpServer, event, args, trust);
    return SaveSettingsResultSchema.parse(await handlers.addMcpServer(args[0] as Record<string, unknown>));
  });
}
