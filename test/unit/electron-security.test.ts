import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  CONTENT_SECURITY_POLICY,
  hardenSession,
  hardenWebContents,
  isAppUrl,
  isExternalUrlAllowed,
  secureWebPreferences,
  withCsp,
  type SessionLike,
} from "../../electron/security.js";

const APP = "http://127.0.0.1:7424";

/** A fake of Electron's WebContents events: handlers are real listeners, events carry preventDefault. */
class FakeWebContents extends EventEmitter {
  readonly id = 1;
  openHandler: ((d: { url: string }) => { action: string }) | null = null;
  setWindowOpenHandler(h: (d: { url: string }) => { action: "deny" } | { action: "allow" }) {
    this.openHandler = h;
  }
  send() {}
  /** Emits a navigation event the way Electron does; returns whether it was prevented. */
  navigate(event: "will-navigate" | "will-redirect", url: string): boolean {
    let prevented = false;
    this.emit(event, { preventDefault: () => (prevented = true) }, url);
    return prevented;
  }
}

function hardened() {
  const contents = new FakeWebContents();
  const opened: string[] = [];
  hardenWebContents(contents, { appOrigin: () => APP, openExternal: (url) => void opened.push(url) });
  return { contents, opened };
}

describe("link policy", () => {
  test("only http(s) URLs may go to the system browser", () => {
    for (const ok of ["https://example.com/a?b#c", "http://example.com"])
      assert.equal(isExternalUrlAllowed(ok), true, ok);
    for (const bad of [
      "file:///etc/passwd",
      "javascript:alert(1)",
      "smb://host/share",
      "ms-settings:",
      "data:text/html,x",
      "mailto:a@b.c",
      "not a url",
      "vscode://x",
    ]) {
      assert.equal(isExternalUrlAllowed(bad), false, bad);
    }
  });

  test("the app origin is exact: scheme, host and port", () => {
    assert.equal(isAppUrl(`${APP}/chat/1`, APP), true);
    assert.equal(isAppUrl("http://127.0.0.1:7425/", APP), false);
    assert.equal(isAppUrl("http://localhost:7424/", APP), false);
    assert.equal(isAppUrl("https://127.0.0.1:7424/", APP), false);
    assert.equal(isAppUrl(`${APP}/`, null), false);
  });

  test("navigation inside the app is allowed; away is blocked and http(s) opens in the browser", () => {
    const { contents, opened } = hardened();
    assert.equal(contents.navigate("will-navigate", `${APP}/settings`), false);
    assert.equal(contents.navigate("will-navigate", "https://github.com/"), true);
    assert.equal(contents.navigate("will-navigate", "file:///etc/passwd"), true);
    assert.equal(contents.navigate("will-redirect", "https://evil.example/"), true);
    assert.deepEqual(opened, ["https://github.com/", "https://evil.example/"]);
  });

  test("window.open is always denied; http(s) targets open in the system browser", () => {
    const { contents, opened } = hardened();
    assert.deepEqual(contents.openHandler?.({ url: "https://example.com/docs" }), { action: "deny" });
    assert.deepEqual(contents.openHandler?.({ url: `${APP}/popup` }), { action: "deny" });
    assert.deepEqual(contents.openHandler?.({ url: "javascript:alert(1)" }), { action: "deny" });
    assert.deepEqual(opened, ["https://example.com/docs"]);
  });

  test("webviews are never attached", () => {
    const { contents } = hardened();
    let prevented = false;
    contents.emit("will-attach-webview", { preventDefault: () => (prevented = true) });
    assert.equal(prevented, true);
  });
});

describe("web preferences", () => {
  test("isolation and sandbox on, Node off", () => {
    const p = secureWebPreferences("/app/preload.cjs");
    assert.equal(p.contextIsolation, true);
    assert.equal(p.sandbox, true);
    assert.equal(p.nodeIntegration, false);
    assert.equal(p.nodeIntegrationInSubFrames, false);
    assert.equal(p.webSecurity, true);
    assert.equal(p.webviewTag, false);
    assert.equal(p.preload, "/app/preload.cjs");
  });
});

describe("Content-Security-Policy", () => {
  const directives = new Map(CONTENT_SECURITY_POLICY.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1)]));

  test("scripts only from the app itself: no inline, no eval, no remote hosts", () => {
    assert.deepEqual(directives.get("script-src"), ["'self'"]);
    assert.deepEqual(directives.get("default-src"), ["'self'"]);
    assert.deepEqual(directives.get("object-src"), ["'none'"]);
    assert.deepEqual(directives.get("base-uri"), ["'none'"]);
    assert.deepEqual(directives.get("connect-src"), ["'self'"]);
    assert.ok(!CONTENT_SECURITY_POLICY.includes("unsafe-eval"));
    assert.ok(!/\bhttps?:/.test(CONTENT_SECURITY_POLICY), "no remote origins");
  });

  test("withCsp replaces any CSP header the server sent and keeps the others", () => {
    const h = withCsp({ "content-security-policy": ["default-src *"], "Content-Type": "text/html" });
    assert.deepEqual(h["Content-Security-Policy"], [CONTENT_SECURITY_POLICY]);
    assert.equal(h["content-security-policy"], undefined);
    assert.deepEqual(h["Content-Type"], ["text/html"]);
  });

  test("the session adds it to the app's responses only, and refuses all permissions", () => {
    let onHeaders: Parameters<SessionLike["webRequest"]["onHeadersReceived"]>[0] | null = null;
    let requestHandler: ((wc: unknown, p: string, cb: (g: boolean) => void) => void) | null = null;
    let checkHandler: ((wc: unknown, p: string) => boolean) | null = null;
    const session: SessionLike = {
      webRequest: { onHeadersReceived: (l) => void (onHeaders = l) },
      setPermissionRequestHandler: (h) => void (requestHandler = h),
      setPermissionCheckHandler: (h) => void (checkHandler = h),
    };
    hardenSession(session, { appOrigin: () => APP });
    const responses: unknown[] = [];
    onHeaders!({ url: `${APP}/`, responseHeaders: { "Content-Type": ["text/html"] } }, (r) => responses.push(r));
    onHeaders!({ url: "https://example.com/", responseHeaders: {} }, (r) => responses.push(r));
    assert.deepEqual(responses[0], {
      responseHeaders: { "Content-Type": ["text/html"], "Content-Security-Policy": [CONTENT_SECURITY_POLICY] },
    });
    assert.deepEqual(responses[1], {});
    const grants: boolean[] = [];
    for (const p of ["media", "geolocation", "notifications", "clipboard-read"])
      requestHandler!(null, p, (g) => grants.push(g));
    assert.deepEqual(grants, [false, false, false, false]);
    assert.equal(checkHandler!(null, "media"), false);
  });
});
