/**
 * The desktop app end to end, driven by Playwright's `_electron`: launch, the window shows the UI
 * from the real server, a reply streams through the window's origin with the bridge's token, the
 * server is restarted after being killed, and quitting leaves no process behind.
 *
 * Runs only where an Electron binary exists (ELECTRON_BIN, or an installed electron package) and,
 * on Linux, a display (use `xvfb-run npm test`). Elsewhere every test is reported as skipped with
 * the reason, and nothing is launched or downloaded.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { _electron, type ElectronApplication, type Page } from "playwright-core";
import { findElectronBinary } from "../../scripts/electron-binary.mjs";
import { descendants } from "../helpers/cli-process.js";
import { isAlive, repoRoot, tempDir, waitGone } from "../helpers/electron-server.js";
import { testModelPath } from "../helpers/models.js";

const electron = findElectronBinary();
const skip: string | false = !electron.bin
  ? `no Electron binary on this machine (${electron.reason}); set ELECTRON_BIN to run these`
  : process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY
    ? "no display: run under xvfb-run"
    : false;

let app: ElectronApplication | null = null;
let page: Page | null = null;
const dirs: string[] = [];

/** The utility process running the Hearth server (a child of Electron's main process). */
function serverPid(mainPid: number): number | undefined {
  for (const pid of descendants(mainPid)) {
    try {
      const args = execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" });
      if (args.includes("--type=utility") && args.includes("node.mojom.NodeService")) return pid;
    } catch {
      // Gone between the two calls.
    }
  }
  return undefined;
}

async function appUrl(p: Page): Promise<string> {
  await p.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\//, { timeout: 120_000 });
  return new URL(p.url()).origin;
}

// Skipped per test (not per suite) so the runner counts and prints each skip with its reason.
describe("Hearth desktop app (Electron)", () => {
  before(async () => {
    if (skip) return;
    if (
      !["dist/electron/main.js", "dist/electron/preload.cjs", "dist/server/cli.js"].every((f) =>
        fs.existsSync(path.join(repoRoot, f)),
      )
    ) {
      spawnSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "build"], {
        cwd: repoRoot,
        stdio: "inherit",
      });
    }
    const dataDir = tempDir("hearth-e2e-data-");
    const userData = tempDir("hearth-e2e-user-");
    dirs.push(dataDir, userData);
    app = await _electron.launch({
      executablePath: electron.bin!,
      // With executablePath, the app folder must be passed explicitly.
      args: [repoRoot],
      env: {
        ...process.env,
        HEARTH_DATA_DIR: dataDir,
        HEARTH_USER_DATA_DIR: userData,
        HEARTH_MODEL: await testModelPath(),
        HEARTH_THREADS: "1",
        // Any free port: the app's default (7424) may be taken by a Hearth the developer is running.
        HEARTH_PORT: "0",
        HEARTH_DISABLE_UPDATES: "1",
        HEARTH_LOG_LEVEL: "warn",
      },
    });
    page = await app.firstWindow();
  });

  after(async () => {
    await app?.close().catch(() => undefined);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test("the window shows the UI from the local server, with the bridge and without Node", { skip }, async () => {
    const origin = await appUrl(page!);
    await page!.waitForLoadState("domcontentloaded");
    const info = await page!.evaluate(() => ({
      hasToken: typeof window.hearth?.token === "string" && window.hearth.token.length > 20,
      version: window.hearth?.version,
      bridgeKeys: Object.keys(window.hearth ?? {}).sort(),
      node: typeof (window as unknown as { require?: unknown }).require,
      process: typeof (window as unknown as { process?: unknown }).process,
    }));
    assert.equal(info.hasToken, true);
    assert.ok(info.version);
    assert.deepEqual(info.bridgeKeys, [
      "onServerStatus",
      "openDataFolder",
      "pickModelFile",
      "platform",
      "token",
      "version",
    ]);
    assert.equal(info.node, "undefined");
    assert.equal(info.process, "undefined");
    const res = await fetch(`${origin}/health/live`);
    assert.equal(res.status, 200);
  });

  test("a reply streams to the window, authorized by the bridge's token", { skip }, async () => {
    const chunks = await page!.evaluate(async () => {
      const token = window.hearth!.token;
      const models = (await (await fetch("/v1/models", { headers: { authorization: `Bearer ${token}` } })).json()) as {
        data: { id: string }[];
      };
      const res = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: models.data[0]!.id,
          stream: true,
          max_tokens: 24,
          messages: [{ role: "user", content: "Once upon a time" }],
        }),
      });
      const reader = res.body!.getReader();
      let n = 0;
      for (;;) {
        const { done } = await reader.read();
        if (done) break;
        n++;
      }
      return n;
    });
    assert.ok(chunks > 1, `the reply arrived in ${chunks} chunks`);
  });

  test("killing the server shows the reason, restarts it, and the UI comes back", { skip }, async () => {
    const mainPid = app!.process().pid!;
    const before = serverPid(mainPid);
    assert.ok(before, "the server runs in a utility process");
    const origin = await appUrl(page!);
    process.kill(before, "SIGKILL");
    await page!.waitForURL(/^file:/, { timeout: 30_000 });
    assert.match((await page!.textContent("#message")) ?? "", /server/i);
    assert.equal(await appUrl(page!), origin, "the restarted server keeps the port");
    const afterPid = serverPid(mainPid);
    assert.ok(afterPid && afterPid !== before && isAlive(afterPid));
  });

  test("quitting stops the server and leaves no process behind", { skip }, async () => {
    const mainPid = app!.process().pid!;
    const tree = descendants(mainPid);
    assert.ok(tree.length > 0);
    await app!.close();
    app = null;
    for (const pid of [mainPid, ...tree]) await waitGone(pid, 20_000);
  });
});
