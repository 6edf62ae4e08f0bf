import { EventEmitter } from "node:events";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildAppMenu, findMenuItem, type MenuActions, type MenuItemSpec } from "../../electron/menu.js";
import { bindTray, buildTrayMenu, describeServer, trayTooltip } from "../../electron/tray.js";

function recorder() {
  const calls: string[] = [];
  const actions: MenuActions = {
    showWindow: () => calls.push("show"),
    openDataFolder: () => calls.push("data"),
    restartServer: () => calls.push("restart"),
    openExternal: (url) => calls.push(`external:${url}`),
    showAbout: () => calls.push("about"),
    quit: () => calls.push("quit"),
  };
  return { calls, actions };
}

const roles = (items: readonly MenuItemSpec[]): string[] =>
  items.flatMap((i) => [...(i.role ? [i.role] : []), ...roles(i.submenu ?? [])]);

describe("application menu", () => {
  test("items run their actions", () => {
    const { calls, actions } = recorder();
    const menu = buildAppMenu(
      { platform: "linux", isPackaged: true, appName: "Hearth", homepage: "https://hearth.example" },
      actions,
    );
    for (const id of ["open-data-folder", "restart-server", "homepage", "about", "quit"])
      findMenuItem(menu, id)?.click?.();
    assert.deepEqual(calls, ["data", "restart", "external:https://hearth.example", "about", "quit"]);
  });

  test("macOS gets the app menu with its roles and no File > Quit; others get File > Quit", () => {
    const { actions } = recorder();
    const mac = buildAppMenu({ platform: "darwin", isPackaged: true, appName: "Hearth" }, actions);
    assert.equal(mac[0]?.label, "Hearth");
    assert.ok(roles(mac).includes("quit") && roles(mac).includes("hideOthers"));
    assert.equal(findMenuItem(mac, "quit"), undefined);
    const win = buildAppMenu({ platform: "win32", isPackaged: true, appName: "Hearth" }, actions);
    assert.equal(win[0]?.label, "&File");
    assert.equal(findMenuItem(win, "quit")?.accelerator, "CmdOrCtrl+Q");
  });

  test("developer tools only when running from source", () => {
    const { actions } = recorder();
    assert.ok(
      !roles(buildAppMenu({ platform: "linux", isPackaged: true, appName: "Hearth" }, actions)).includes(
        "toggleDevTools",
      ),
    );
    assert.ok(
      roles(buildAppMenu({ platform: "linux", isPackaged: false, appName: "Hearth" }, actions)).includes(
        "toggleDevTools",
      ),
    );
  });

  test("no website item without a homepage", () => {
    const { actions } = recorder();
    assert.equal(
      findMenuItem(buildAppMenu({ platform: "linux", isPackaged: true, appName: "Hearth" }, actions), "homepage"),
      undefined,
    );
  });
});

describe("tray", () => {
  test("the status line and tooltip follow the server's state", () => {
    assert.equal(
      describeServer({ state: "running", url: "http://127.0.0.1:5000" }),
      "Server running at http://127.0.0.1:5000",
    );
    assert.equal(trayTooltip("Hearth", { state: "restarting", url: null }), "Hearth: Server restarting…");
    const { actions } = recorder();
    const failed = buildTrayMenu("Hearth", { state: "failed", url: null }, actions);
    assert.equal(findMenuItem(failed, "status")?.enabled, false, "the status line is not clickable");
    assert.equal(findMenuItem(failed, "restart-server")?.label, "Start Server");
    assert.equal(
      findMenuItem(buildTrayMenu("Hearth", { state: "starting", url: null }, actions), "restart-server")?.enabled,
      false,
    );
  });

  test("tray items and a tray click run their actions", () => {
    const { calls, actions } = recorder();
    const menu = buildTrayMenu("Hearth", { state: "running", url: "http://127.0.0.1:1" }, actions);
    for (const id of ["show", "restart-server", "open-data-folder", "quit"]) findMenuItem(menu, id)?.click?.();
    assert.deepEqual(calls, ["show", "restart", "data", "quit"]);
  });

  test("bindTray updates a tray (a fake of Electron's Tray) on each status", () => {
    const { calls, actions } = recorder();
    const tray = Object.assign(new EventEmitter(), {
      tooltip: "",
      menu: null as unknown,
      setToolTip(t: string) {
        this.tooltip = t;
      },
      setContextMenu(m: unknown) {
        this.menu = m;
      },
      destroy() {},
    });
    const update = bindTray(tray, "Hearth", actions, (template) => ({ built: template }));
    update({ state: "running", url: "http://127.0.0.1:9" });
    assert.equal(tray.tooltip, "Hearth: Server running at http://127.0.0.1:9");
    const built = (tray.menu as { built: MenuItemSpec[] }).built;
    assert.equal(findMenuItem(built, "status")?.label, "Server running at http://127.0.0.1:9");
    tray.emit("click");
    assert.deepEqual(calls, ["show"]);
  });
});
