/**
 * The window's hardening, after Electron's security checklist: isolated and sandboxed renderers, a
 * strict Content-Security-Policy on the app's responses, no navigation away from the app, no new
 * windows, no permissions, and external links handed to the system browser only when they are
 * http(s).
 */

/** webPreferences for the app window; nothing here may be loosened. */
export function secureWebPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: true,
  } as const;
}

/**
 * The Content-Security-Policy for the app's pages. Scripts only from the app's own origin (Vite
 * emits module files, no inline script); styles also allow inline because React and libraries set
 * `style` attributes; connections only back to the server that served the page.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-src 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** True for http(s) URLs, the only ones ever handed to the system browser. */
export function isExternalUrlAllowed(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** True when `url` is on the app's own origin (the local server that serves the UI). */
export function isAppUrl(url: string, appOrigin: string | null): boolean {
  if (!appOrigin) return false;
  try {
    return new URL(url).origin === appOrigin;
  } catch {
    return false;
  }
}

/** Response headers with the app's CSP added (an existing CSP header is replaced). */
export function withCsp(headers: Record<string, string[] | string> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === "content-security-policy") continue;
    out[k] = Array.isArray(v) ? v : [v];
  }
  out["Content-Security-Policy"] = [CONTENT_SECURITY_POLICY];
  return out;
}

/** The part of an Electron `Session` the hardening touches. */
export interface SessionLike {
  webRequest: {
    onHeadersReceived(
      listener: (
        details: { url: string; responseHeaders?: Record<string, string[]> },
        callback: (response: { responseHeaders?: Record<string, string[]> }) => void,
      ) => void,
    ): void;
  };
  setPermissionRequestHandler(
    handler: ((webContents: unknown, permission: string, callback: (granted: boolean) => void) => void) | null,
  ): void;
  setPermissionCheckHandler(handler: ((webContents: unknown, permission: string) => boolean) | null): void;
}

/** A navigation-like event whose default can be prevented. */
export interface PreventableEvent {
  preventDefault(): void;
}

/** The part of Electron's `WebContents` the hardening touches. */
export interface WebContentsLike {
  readonly id: number;
  on(event: "will-navigate", listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: "will-redirect", listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: "will-attach-webview", listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: "deny" } | { action: "allow" }): void;
  send(channel: string, ...args: unknown[]): void;
}

export interface HardenOptions {
  /** The current app origin; it can change when the server restarts on another port. */
  appOrigin(): string | null;
  /** Opens a URL in the system browser (Electron's `shell.openExternal`). */
  openExternal(url: string): Promise<void> | void;
}

/** Adds the CSP to responses from the app's origin and refuses every permission request. */
export function hardenSession(session: SessionLike, options: Pick<HardenOptions, "appOrigin">): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    if (isAppUrl(details.url, options.appOrigin())) callback({ responseHeaders: withCsp(details.responseHeaders) });
    else callback({});
  });
  // Hearth needs no camera, microphone, notifications from the page, geolocation, ...
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

/** Keeps the window on the app: other pages open in the system browser (http(s) only), never in the app. */
export function hardenWebContents(contents: WebContentsLike, options: HardenOptions): void {
  const leave = (event: PreventableEvent, url: string) => {
    if (isAppUrl(url, options.appOrigin())) return;
    event.preventDefault();
    if (isExternalUrlAllowed(url)) void options.openExternal(url);
  };
  contents.on("will-navigate", leave);
  contents.on("will-redirect", leave);
  contents.on("will-attach-webview", (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (isExternalUrlAllowed(url) && !isAppUrl(url, options.appOrigin())) void options.openExternal(url);
    return { action: "deny" };
  });
}
