// Finds an installed Electron executable WITHOUT loading the electron package's index.js, which
// (Electron >= 42) starts a download when the binary is missing: these build machines are offline.
// Order: ELECTRON_BIN, then what `install-electron` recorded (path.txt under the package, or under
// ELECTRON_OVERRIDE_DIST_PATH). Shared by scripts/start.mjs and test/electron/.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** Where electron would look, and why none is usable; `bin` is null when none is. */
export function findElectronBinary(env = process.env, platform = process.platform) {
  if (env.ELECTRON_BIN) {
    return fs.existsSync(env.ELECTRON_BIN)
      ? { bin: env.ELECTRON_BIN, reason: "ELECTRON_BIN" }
      : { bin: null, reason: `ELECTRON_BIN points to ${env.ELECTRON_BIN}, which does not exist` };
  }
  let dir;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve("electron/package.json"));
  } catch {
    return { bin: null, reason: "the electron package is not installed" };
  }
  const pathFile = path.join(dir, "path.txt");
  let rel = fs.existsSync(pathFile) ? fs.readFileSync(pathFile, "utf8").trim() : "";
  if (!rel && env.ELECTRON_OVERRIDE_DIST_PATH) {
    rel =
      platform === "win32"
        ? "electron.exe"
        : platform === "darwin"
          ? "Electron.app/Contents/MacOS/Electron"
          : "electron";
  }
  if (!rel) {
    return {
      bin: null,
      reason:
        "its binary was never downloaded (no node_modules/electron/path.txt; these machines cannot reach Electron's download host)",
    };
  }
  const bin = path.join(env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(dir, "dist"), rel);
  return fs.existsSync(bin) ? { bin, reason: "installed" } : { bin: null, reason: `${bin} does not exist` };
}

/** The Electron executable, or null. */
export function electronBinary(env = process.env) {
  return findElectronBinary(env).bin;
}
