import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { findElectronBinary } from "../../scripts/electron-binary.mjs";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-ebin-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("findElectronBinary (never loads electron's index.js, which would download)", () => {
  test("ELECTRON_BIN wins when it exists, and is explained when it does not", () => {
    const bin = path.join(dir, "electron");
    fs.writeFileSync(bin, "");
    assert.deepEqual(findElectronBinary({ ELECTRON_BIN: bin }), { bin, reason: "ELECTRON_BIN" });
    const missing = findElectronBinary({ ELECTRON_BIN: path.join(dir, "nope") });
    assert.equal(missing.bin, null);
    assert.match(missing.reason, /does not exist/);
  });

  test("ELECTRON_OVERRIDE_DIST_PATH is used like electron's own lookup", () => {
    const dist = path.join(dir, "dist");
    fs.mkdirSync(dist);
    fs.writeFileSync(path.join(dist, "electron"), "");
    assert.equal(findElectronBinary({ ELECTRON_OVERRIDE_DIST_PATH: dist }, "linux").bin, path.join(dist, "electron"));
    assert.equal(
      findElectronBinary({ ELECTRON_OVERRIDE_DIST_PATH: dist }, "win32").bin,
      null,
      "electron.exe is not there",
    );
  });
});
