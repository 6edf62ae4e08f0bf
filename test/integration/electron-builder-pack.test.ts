/**
 * Packs the app for this Linux host with electron-builder itself (its `dir` target: the unpacked
 * app an AppImage or .deb is made from), using electron-builder.yml as is. The only stand-ins are
 * the Electron distribution (a folder with a fake `electron` executable, since the real one cannot
 * be downloaded here), the fuses step, which patches that real binary, and dist/renderer, which
 * the browser tests rebuild while this runs (its inclusion is checked in the unit test of the
 * config). Then the packaged file
 * list is checked for the native binaries the app needs, unpacked from the asar, and for nothing
 * of other platforms.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { listPackage } from "@electron/asar";
import { Arch, build, Platform } from "electron-builder";
import { repoRoot, tempDir } from "../helpers/electron-server.js";

const skip = process.platform !== "linux" ? "packs the host's Linux target; runs on Linux only" : false;
const work = skip ? "" : tempDir("hearth-pack-");
let appDir = "";
let asarFiles = new Set<string>();
let unpacked: string[] = [];

function walk(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : [path.relative(base, p).split(path.sep).join("/")];
  });
}

before(async () => {
  if (skip) return;
  // The app's entry points are build outputs; compile them if this checkout has not yet.
  if (
    !["dist/electron/main.js", "dist/electron/preload.cjs", "dist/server/cli.js"].every((f) =>
      fs.existsSync(path.join(repoRoot, f)),
    )
  ) {
    spawnSync(
      process.execPath,
      [path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
      { cwd: repoRoot, stdio: "inherit" },
    );
  }
  const electronDist = path.join(work, "electron-dist");
  fs.mkdirSync(electronDist, { recursive: true });
  fs.writeFileSync(path.join(electronDist, "electron"), "#!/bin/sh\necho 'stand-in for the Electron binary'\n", {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(electronDist, "LICENSE"), "");
  const arch = process.arch === "arm64" ? Arch.arm64 : Arch.x64;
  await build({
    projectDir: repoRoot,
    targets: Platform.LINUX.createTarget("dir", arch),
    publish: "never",
    config: {
      extends: null,
      electronDist,
      electronFuses: null,
      // Appended to the config's own list, after everything it includes.
      files: ["!dist/renderer/**/*"],
      directories: { output: path.join(work, "release"), buildResources: "resources/build" },
    },
  });
  const out = path.join(work, "release", arch === Arch.arm64 ? "linux-arm64-unpacked" : "linux-unpacked");
  appDir = path.join(out, "resources");
  asarFiles = new Set(
    listPackage(path.join(appDir, "app.asar"), { isPack: false }).map((f) =>
      f.split(path.sep).join("/").replace(/^\//, ""),
    ),
  );
  unpacked = walk(path.join(appDir, "app.asar.unpacked"));
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const hostOs = process.arch === "arm64" ? "linux-arm64" : "linux-x64";

describe("electron-builder packs the app", { skip }, () => {
  test("the app's code, UI resources and entry points are in the asar, without source maps or build inputs", () => {
    for (const f of [
      "package.json",
      "dist/electron/main.js",
      "dist/electron/preload.cjs",
      "dist/server/cli.js",
      "resources/status.html",
      "resources/status.js",
      "resources/icons/tray.png",
    ]) {
      assert.ok(asarFiles.has(f), `${f} is packaged`);
    }
    const packagedPkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { main: string };
    assert.ok(asarFiles.has(packagedPkg.main));
    assert.deepEqual(
      [...asarFiles].filter((f) => f.endsWith(".map")),
      [],
      "no source maps",
    );
    assert.ok(![...asarFiles].some((f) => f.startsWith("resources/build/")), "no build inputs");
    assert.ok(![...asarFiles].some((f) => /^(electron|server|test|bench)\//.test(f)), "no TypeScript sources or tests");
    assert.ok(
      ![...asarFiles].some((f) => f.startsWith("dist/renderer/")),
      "the test's own exclusion of the UI bundle took effect",
    );
  });

  test("llama.cpp's binaries for this platform, GPU variants included, are unpacked from the asar", () => {
    const installed = fs
      .readdirSync(path.join(repoRoot, "node_modules", "@node-llama-cpp"))
      .filter((n) => n === hostOs || n.startsWith(`${hostOs}-`));
    assert.ok(installed.includes(hostOs));
    for (const name of installed) {
      // Every file of the package's bins folder, exactly (cuda-ext, for one, holds only an extra library).
      const source = walk(path.join(repoRoot, "node_modules", "@node-llama-cpp", name, "bins")).map(
        (f) => `node_modules/@node-llama-cpp/${name}/bins/${f}`,
      );
      assert.ok(
        source.some((f) => /\.(node|so)$/.test(f)),
        `${name} has native files`,
      );
      const packed = unpacked.filter((f) => f.startsWith(`node_modules/@node-llama-cpp/${name}/bins/`));
      assert.deepEqual(packed.sort(), source.sort(), `${name}'s binaries are all unpacked`);
    }
    assert.ok(
      unpacked.includes(`node_modules/@node-llama-cpp/${hostOs}/bins/${hostOs}/llama-addon.node`),
      "the CPU addon is there",
    );
  });

  test("no other platform's llama.cpp binaries are packaged", () => {
    const all = [...asarFiles, ...unpacked];
    const foreign = all.filter((f) => {
      const m = /^node_modules\/@node-llama-cpp\/([^/]+)\/bins\//.exec(f);
      return m && m[1] !== hostOs && !m[1]!.startsWith(`${hostOs}-`);
    });
    assert.deepEqual(foreign, []);
  });

  test("better-sqlite3 for Electron ships its own platform's N-API prebuild, unpacked; the Node-ABI build is left out", () => {
    const prebuilds = unpacked.filter((f) => f.startsWith("node_modules/better-sqlite3-electron/prebuilds/"));
    assert.deepEqual(prebuilds, [`node_modules/better-sqlite3-electron/prebuilds/${hostOs}.node`]);
    assert.ok(
      asarFiles.has("node_modules/better-sqlite3-electron/lib/index.js") ||
        unpacked.includes("node_modules/better-sqlite3-electron/lib/index.js"),
    );
    assert.ok(
      ![...asarFiles, ...unpacked].some((f) => f.startsWith("node_modules/better-sqlite3/")),
      "better-sqlite3 12 (Node ABI) is not packaged",
    );
  });

  test("auto-update metadata is written for the GitHub provider", () => {
    const updateYml = fs.readFileSync(path.join(appDir, "app-update.yml"), "utf8");
    assert.match(updateYml, /updaterCacheDirName: hearth-updater/);
  });
});
