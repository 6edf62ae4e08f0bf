import { EventEmitter } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  clampToDisplays,
  loadWindowState,
  MIN_HEIGHT,
  MIN_WIDTH,
  readWindowState,
  trackWindowState,
  writeWindowState,
  type DisplayLike,
  type Rect,
} from "../../electron/window-state.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-winstate-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const laptop: DisplayLike = { workArea: { x: 0, y: 25, width: 1440, height: 875 } };
const rightMonitor: DisplayLike = { workArea: { x: 1440, y: 0, width: 2560, height: 1440 } };

describe("window state file", () => {
  test("round-trips through the JSON file", () => {
    const file = path.join(dir, "a.json");
    const state = { x: 100, y: 120, width: 1000, height: 700, maximized: true, fullScreen: false };
    writeWindowState(file, state);
    assert.deepEqual(readWindowState(file), state);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes(".tmp")),
      [],
      "no temp file left behind",
    );
  });

  test("missing, corrupt or invalid files give the defaults", () => {
    const file = path.join(dir, "bad.json");
    assert.equal(readWindowState(path.join(dir, "none.json")), null);
    fs.writeFileSync(file, '{"x": 10, "width": 800');
    assert.equal(readWindowState(file), null);
    fs.writeFileSync(file, JSON.stringify({ x: 0, y: 0, width: "wide", height: 700 }));
    assert.equal(readWindowState(file), null);
    fs.writeFileSync(file, JSON.stringify({ x: 0, y: 0, width: 1e9, height: 700 }));
    assert.equal(readWindowState(file), null);
    const state = loadWindowState(file, [laptop]);
    assert.equal(state.x, undefined, "default state lets Electron centre the window");
    assert.ok(state.width <= laptop.workArea.width && state.height <= laptop.workArea.height);
  });

  test("refuses to write an invalid state", () => {
    assert.throws(() =>
      writeWindowState(path.join(dir, "w.json"), {
        x: 1.5,
        y: 0,
        width: 800,
        height: 600,
        maximized: false,
        fullScreen: false,
      }),
    );
  });
});

describe("clampToDisplays", () => {
  test("keeps a window that is on a display", () => {
    const s = { x: 1600, y: 100, width: 1200, height: 800, maximized: false, fullScreen: false };
    assert.deepEqual(clampToDisplays(s, [laptop, rightMonitor]), s);
  });

  test("a window last seen on an unplugged monitor comes back centred on the primary display", () => {
    const s = { x: 1600, y: 100, width: 2400, height: 1300, maximized: false, fullScreen: false };
    const c = clampToDisplays(s, [laptop]);
    assert.equal(c.x, undefined);
    assert.equal(c.y, undefined);
    assert.equal(c.width, laptop.workArea.width);
    assert.equal(c.height, laptop.workArea.height);
  });

  test("a window hanging off an edge is pulled inside the work area", () => {
    const c = clampToDisplays({ x: 1300, y: -5, width: 900, height: 600, maximized: false, fullScreen: false }, [
      laptop,
    ]);
    assert.deepEqual(
      { x: c.x, y: c.y, width: c.width, height: c.height },
      { x: 1440 - 900, y: 25, width: 900, height: 600 },
    );
  });

  test("a title bar above the top of every display is not kept", () => {
    const c = clampToDisplays({ x: 100, y: -900, width: 900, height: 600, maximized: false, fullScreen: false }, [
      laptop,
    ]);
    assert.equal(c.y, undefined);
  });

  test("sizes below the minimum grow to it", () => {
    const c = clampToDisplays({ x: 10, y: 30, width: 20, height: 20, maximized: false, fullScreen: false }, [laptop]);
    assert.equal(c.width, MIN_WIDTH);
    assert.equal(c.height, MIN_HEIGHT);
  });
});

class FakeWindow extends EventEmitter {
  bounds: Rect = { x: 10, y: 40, width: 900, height: 700 };
  maximized = false;
  destroyed = false;
  getNormalBounds() {
    return { ...this.bounds };
  }
  isMaximized() {
    return this.maximized;
  }
  isFullScreen() {
    return false;
  }
  isDestroyed() {
    return this.destroyed;
  }
}

describe("trackWindowState", () => {
  test("saves after moves settle, at once on maximize and close, and on flush", () => {
    const file = path.join(dir, "track.json");
    const win = new FakeWindow();
    const flush = trackWindowState(win, file, { debounceMs: 60_000 });
    win.bounds = { x: 50, y: 60, width: 1000, height: 750 };
    win.emit("move");
    assert.equal(fs.existsSync(file), false, "a move alone waits for the window to settle");
    flush();
    assert.deepEqual(readWindowState(file), {
      x: 50,
      y: 60,
      width: 1000,
      height: 750,
      maximized: false,
      fullScreen: false,
    });
    win.maximized = true;
    win.emit("maximize");
    assert.equal(readWindowState(file)?.maximized, true);
    win.maximized = false;
    win.bounds = { x: 70, y: 80, width: 800, height: 600 };
    win.emit("close");
    assert.deepEqual(readWindowState(file), {
      x: 70,
      y: 80,
      width: 800,
      height: 600,
      maximized: false,
      fullScreen: false,
    });
  });
});
