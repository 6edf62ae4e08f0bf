/**
 * What the desktop shell gives the page, as `window.hearth`. Types only, so the renderer can import
 * them (`import type { HearthBridge } from "../../electron/preload-api.js"`) without pulling in
 * Electron. In a plain browser (headless `hearth serve`) `window.hearth` is undefined: the UI then
 * talks to the server without a token and hides the desktop-only actions.
 */

/** Where the supervised server is in its life (mirrors `ServerState` in server-process.ts). */
export type HearthServerState = "stopped" | "starting" | "running" | "restarting" | "failed" | "stopping";

/** Sent to the page whenever the supervised server changes state (crash, restart, ...). */
export interface HearthServerStatus {
  state: HearthServerState;
  /** The server's base URL while running, else null. */
  url: string | null;
  /** Unplanned restarts since the app started. */
  restarts: number;
  /** A sentence to show people as is, e.g. "The Hearth server exited with code 1. Restarting in 1 s…". */
  message: string;
}

/** The bridge exposed by the preload script through `contextBridge`. */
export interface HearthBridge {
  /**
   * The per-launch API key of the server that serves this page: send it as
   * `Authorization: Bearer <token>` on every /v1 and /api request (EventSource cannot set headers;
   * use fetch streaming for SSE).
   */
  readonly token: string;
  /** The app's version, e.g. "0.1.0". */
  readonly version: string;
  /** "darwin" | "win32" | "linux": for platform wording (e.g. "Reveal in Finder"). */
  readonly platform: string;
  /** Opens the native file picker for GGUF files; resolves with the chosen absolute path, or null if cancelled. */
  pickModelFile(): Promise<string | null>;
  /** Opens Hearth's data folder (history, models, settings) in the system file manager. */
  openDataFolder(): Promise<void>;
  /**
   * Saves server settings (PUT /api/settings) through the desktop app. The only way the UI changes
   * the settings that guard the server (host, insecure, CORS origins, allowed hosts, Hugging Face
   * address): the app asks the person in a native dialog first. Resolves with the server's answer
   * (status and body text), or null when the person cancelled.
   */
  saveSettings(patch: Record<string, unknown>): Promise<{ status: number; body: string } | null>;
  /**
   * Adds an MCP server that runs a command (POST /api/mcp/servers) through the desktop app, the
   * only way the UI can: the app shows the person the command in a native dialog first. Resolves
   * with the server's answer, or null when the person cancelled.
   */
  addMcpServer(server: Record<string, unknown>): Promise<{ status: number; body: string } | null>;
  /**
   * Calls `listener` on every server state change (a crash and restart included) and once at once
   * with the current state. Returns a function that stops the calls.
   */
  onServerStatus(listener: (status: HearthServerStatus) => void): () => void;
}

declare global {
  interface Window {
    /** Present only inside the desktop app. */
    hearth?: HearthBridge;
  }
}
