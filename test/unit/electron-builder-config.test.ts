/**
 * electron-builder.yml, checked with electron-builder's own code (its config loader, its JSON
 * schema validation and its macro expander), without Electron: the file is valid, every file it
 * names exists, and the per-platform filters keep exactly each target's native binaries.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { getConfig, validateConfiguration } from "app-builder-lib/out/util/config/config.js";
import { expandMacro } from "app-builder-lib/out/util/macroExpander.js";
import type { Configuration } from "app-builder-lib";
import { DebugLogger } from "builder-util";
import { minimatch } from "minimatch";
import { repoRoot } from "../helpers/electron-server.js";

// node-llama-cpp's "exports" hide its package.json from require.resolve.
const moduleDir = (name: string) => path.join(repoRoot, "node_modules", name);
const config: Configuration = await getConfig(repoRoot, null, null);
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
  main: string;
  dependencies: Record<string, string>;
};

type Os = "mac" | "win" | "linux";
/** Every installer the config builds, as (os, arch). */
const TARGETS: [Os, string][] = [
  ["mac", "arm64"],
  ["mac", "x64"],
  ["win", "x64"],
  ["linux", "x64"],
  ["linux", "arm64"],
];
const NODE_PLATFORM: Record<Os, string> = { mac: "darwin", win: "win32", linux: "linux" };

interface ReleaseWorkflow {
  on: { push: { tags: string[] } };
  jobs: {
    installers: {
      strategy: { matrix: { include: { os: string; args: string }[] } };
      steps: { name?: string; run?: string; if?: string }[];
    };
  };
}

/** .github/workflows/release.yml, parsed with js-yaml, which is what electron-builder itself parses YAML with. */
function releaseWorkflow(): ReleaseWorkflow {
  const yaml = createRequire(import.meta.url)("js-yaml") as { load(text: string): unknown };
  return yaml.load(
    fs.readFileSync(path.join(repoRoot, ".github", "workflows", "release.yml"), "utf8"),
  ) as ReleaseWorkflow;
}

/** Expands macros as electron-builder does when building `os`/`arch` on its own OS's runner. */
function expand(pattern: string, os: Os, arch: string): string {
  const onHost = pattern.replaceAll("${platform}", NODE_PLATFORM[os]);
  return expandMacro(onHost, arch, { productName: "Hearth", sanitizedProductName: "Hearth" } as never, { os });
}

/** The patterns of a files-like option (getConfig turns string lists into `[{ filter: [...] }]`). */
const strings = (v: unknown): string[] => {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === "object" && "filter" in v && !("from" in v)) return strings((v as { filter: unknown }).filter);
  return [];
};

describe("electron-builder.yml", () => {
  test("passes electron-builder's own schema validation", async () => {
    await validateConfiguration(config, new DebugLogger(false));
  });

  test("the validator does catch mistakes (so the test above can fail)", async () => {
    const broken = { ...config, mac: { ...config.mac, hardenedRuntim: true } } as Configuration;
    await assert.rejects(validateConfiguration(broken, new DebugLogger(false)), /configuration\.mac /);
  });

  test("names the app and builds the installers the issue asks for", () => {
    assert.equal(config.appId, "app.hearth.desktop");
    assert.equal(config.productName, "Hearth");
    const targets = (os: Os) =>
      (config[os]?.target as { target: string; arch: string[] }[]).map(
        (t) => `${t.target}:${[...t.arch].sort().join(",")}`,
      );
    assert.deepEqual(targets("linux"), ["AppImage:arm64,x64", "deb:arm64,x64"]);
    assert.deepEqual(targets("mac"), ["dmg:arm64,x64", "zip:arm64,x64"]);
    assert.deepEqual(targets("win"), ["nsis:x64"]);
    assert.equal(config.mac?.hardenedRuntime, true);
    assert.equal((config.publish as { provider: string }).provider, "github");
  });

  test("every file it names exists", () => {
    const file = (p: string | null | undefined) => {
      assert.ok(p, "a path is set");
      assert.ok(fs.existsSync(path.join(repoRoot, p)), `${p} exists`);
      return path.join(repoRoot, p);
    };
    file(config.mac?.icon);
    file(config.win?.icon);
    file(config.mac?.entitlements);
    file(config.mac?.entitlementsInherit);
    const linuxIcons = file(config.linux?.icon);
    for (const size of [16, 32, 48, 64, 128, 256, 512])
      assert.ok(fs.existsSync(path.join(linuxIcons, `${size}x${size}.png`)));
    const ico = fs.readFileSync(file(config.win?.icon));
    assert.deepEqual([...ico.subarray(0, 4)], [0, 0, 1, 0], "a real ICO header");
    assert.equal(fs.readFileSync(file(config.mac?.icon)).subarray(0, 4).toString("latin1"), "icns");
    assert.ok(fs.existsSync(path.join(repoRoot, config.directories?.buildResources ?? "build")));
    // The entry point is built from electron/main.ts by tsconfig.build.json.
    assert.equal(pkg.main, "dist/electron/main.js");
    assert.ok(fs.existsSync(path.join(repoRoot, "electron", "main.ts")));
    assert.ok(strings(config.files).includes("dist/electron/**/*"));
  });

  test("native modules are never rebuilt in place (the Node checkout keeps working)", () => {
    assert.equal(config.npmRebuild, false);
    assert.equal(config.nodeGypRebuild, false);
    assert.equal(config.buildDependenciesFromSource, false);
    // The Electron driver is the N-API better-sqlite3 13 under its alias.
    assert.match(pkg.dependencies["better-sqlite3-electron"] ?? "", /^npm:better-sqlite3@\^?13\./);
    const prebuilds = fs.readdirSync(path.join(moduleDir("better-sqlite3-electron"), "prebuilds"));
    for (const [os, arch] of TARGETS)
      assert.ok(prebuilds.includes(`${NODE_PLATFORM[os]}-${arch}.node`), `${os}-${arch} prebuild ships in the package`);
    assert.ok(strings(config.files).includes("!node_modules/better-sqlite3/**/*"), "the Node-ABI build is left out");
  });

  test("llama.cpp filters use the target's ${os}/${arch}, never the build host's ${platform}", () => {
    const llama = strings(config.files).filter((p) => p.includes("node-llama-cpp"));
    assert.ok(llama.length >= 6);
    for (const p of llama) assert.ok(!p.includes("${platform}"), p);
  });

  test("no platform-level files lists (electron-builder would copy the whole project through a second matcher)", () => {
    for (const os of ["mac", "win", "linux"] as const) assert.equal(config[os]?.files, undefined, os);
  });

  // node-llama-cpp's own list of binary packages, one per platform/GPU variant.
  const llamaPackages = Object.keys(
    (
      JSON.parse(fs.readFileSync(path.join(moduleDir("node-llama-cpp"), "package.json"), "utf8")) as {
        optionalDependencies: Record<string, string>;
      }
    ).optionalDependencies,
  ).map((n) => n.replace("@node-llama-cpp/", ""));

  for (const [os, arch] of TARGETS) {
    test(`${os}-${arch}: keeps its own llama.cpp binaries (GPU variants included) and better-sqlite3 prebuild, nothing else`, () => {
      const include = strings(config.files)
        .filter((p) => p.startsWith("node_modules/@node-llama-cpp/"))
        .map((p) => expand(p, os, arch));
      assert.equal(include.length, 1);
      const kept = llamaPackages.filter((name) =>
        minimatch(`node_modules/@node-llama-cpp/${name}/bins/${name}/llama-addon.node`, include[0]!, { dot: true }),
      );
      const expected = llamaPackages.filter((name) => name === `${os}-${arch}` || name.startsWith(`${os}-${arch}-`));
      assert.deepEqual(kept, expected);
      assert.ok(kept.length >= 1, "at least the CPU build");
      if (os === "linux" && arch === "x64")
        assert.deepEqual(kept.sort(), ["linux-x64", "linux-x64-cuda", "linux-x64-cuda-ext", "linux-x64-vulkan"]);
      if (os === "mac" && arch === "arm64") assert.deepEqual(kept, ["mac-arm64-metal"]);

      const drop = strings(config.files)
        .filter((p) => p.startsWith("!node_modules/better-sqlite3-electron/prebuilds"))
        .map((p) => expand(p, os, arch));
      const prebuilds = fs.readdirSync(path.join(moduleDir("better-sqlite3-electron"), "prebuilds"));
      const survivors = prebuilds.filter(
        (f) => !drop.some((d) => !minimatch(`node_modules/better-sqlite3-electron/prebuilds/${f}`, d, { dot: true })),
      );
      assert.deepEqual(survivors, [`${NODE_PLATFORM[os]}-${arch}.node`]);
    });
  }

  test("a local llama.cpp build (the portable one the release workflow makes) travels only with its own platform's installer", () => {
    // The folder node-llama-cpp files the portable build under on linux-x64 (its name ends in a hash of the CMake options).
    const portableFolder = "linux-x64-3c692g6e491f414t5r6m5p5r6c263h1i13x5z1b";
    const file = `node_modules/node-llama-cpp/llama/localBuilds/${portableFolder}/Release/llama-addon.node`;
    const kept = (os: Os, arch: string) => {
      const patterns = strings(config.files)
        .filter((p) => p.includes("llama/localBuilds"))
        .map((p) => expand(p, os, arch));
      // electron-builder applies the list in order: the last pattern that matches decides.
      let keep = false;
      for (const p of patterns) {
        if (p.startsWith("!") ? minimatch(file, p.slice(1), { dot: true }) : minimatch(file, p, { dot: true }))
          keep = !p.startsWith("!");
      }
      return keep;
    };
    assert.equal(kept("linux", "x64"), true, "linux-x64 keeps it");
    for (const [os, arch] of TARGETS.filter(([o, a]) => !(o === "linux" && a === "x64")))
      assert.equal(kept(os, arch), false, `${os}-${arch} leaves it out`);
    assert.ok(
      strings(config.asarUnpack).some((p) => minimatch(file, p, { dot: true })),
      "unpacked from the asar",
    );
    const deb = (config as { deb?: { depends?: string[] } }).deb;
    assert.ok(deb?.depends?.includes("libgomp1"), "the deb depends on the OpenMP runtime");
    assert.ok(deb?.depends?.includes("libgtk-3-0"), "and keeps electron-builder's own dependencies");
  });

  test("the release workflow builds the portable engine on Linux, before packaging", () => {
    const steps = releaseWorkflow().jobs.installers.steps;
    const build = steps.findIndex((s) => s.run?.includes("npm run build:engine -- --portable"));
    const pack = steps.findIndex((s) => s.run?.includes("electron-builder"));
    assert.ok(build >= 0, "a step builds it");
    assert.ok(build < pack, "before electron-builder packs the app");
    assert.match(steps[build]!.if ?? "", /runner\.os == 'Linux'/);
  });

  test("native binaries are unpacked from the asar", () => {
    const unpack = strings(config.asarUnpack);
    for (const file of [
      "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/llama-addon.node",
      "node_modules/@node-llama-cpp/win-x64-cuda/bins/win-x64-cuda/ggml-cuda.dll",
      "node_modules/better-sqlite3-electron/prebuilds/darwin-arm64.node",
    ]) {
      assert.ok(
        unpack.some((p) => minimatch(file, p, { dot: true })),
        file,
      );
    }
  });

  test("the release workflow builds every target on a runner of its own OS", () => {
    const wf = releaseWorkflow();
    assert.deepEqual(wf.on.push.tags, ["v*.*.*"]);
    const built = new Set<string>();
    for (const { os, args } of wf.jobs.installers.strategy.matrix.include) {
      const target = (/--(mac|win|linux)\b/.exec(args)?.[1] ?? "") as Os;
      const hostOs = os.startsWith("macos") ? "mac" : os.startsWith("windows") ? "win" : "linux";
      assert.equal(target, hostOs, `${args} runs on ${os}`);
      for (const arch of args.match(/--(x64|arm64)\b/g) ?? []) built.add(`${target}-${arch.slice(2)}`);
    }
    assert.deepEqual([...built].sort(), TARGETS.map(([os, arch]) => `${os}-${arch}`).sort());
  });
});
