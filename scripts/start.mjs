#!/usr/bin/env node
// `npm start`: builds what is out of date, then launches the desktop app where an Electron binary
// is installed; where none is (as on the offline build machines), says so and runs the headless
// server with the UI instead, printing its URL. It never fails just because Electron is missing.
//
//   npm start                      desktop app, or headless server on http://127.0.0.1:7424
//   npm start -- --port 0 --model ~/models/x.gguf   flags go to `hearth serve` (headless only;
//                                  the desktop app reads HEARTH_* variables, e.g. HEARTH_MODEL)
//   npm start -- --no-build        skip the build step (use dist/ as it is, or run from source)
//   npm start -- --headless        the server even where Electron is available
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { findElectronBinary } from "./electron-binary.mjs";

const root = path.resolve(import.meta.dirname, "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const say = (msg) => console.log(`[hearth] ${msg}`);

const argv = process.argv.slice(2);
const noBuild = argv.includes("--no-build");
const forceHeadless = argv.includes("--headless");
const serveArgs = argv.filter((a) => a !== "--no-build" && a !== "--headless");

/** Newest modification time of any file under the given folders (0 if none). */
function newest(...dirs) {
  let t = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== "node_modules") visit(path.join(p, e));
    } else t = Math.max(t, st.mtimeMs);
  };
  for (const d of dirs) visit(path.join(root, d));
  return t;
}

const outdated = (output, ...inputs) => {
  const out = path.join(root, output);
  return !fs.existsSync(out) || fs.statSync(out).mtimeMs < newest(...inputs, "package.json");
};

/** Children get their own process group on POSIX so that signals reach them once, from us. */
const spawnOptions = { cwd: root, detached: process.platform !== "win32" };

/** Runs an npm script; returns whether it succeeded. */
function npmRun(script) {
  say(`npm run ${script}`);
  const r = spawnSync(npm, ["run", "--silent", script], {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  return r.status === 0;
}

function build({ electron }) {
  if (noBuild) return;
  const serverOut = electron ? "dist/electron/main.js" : "dist/server/cli.js";
  if (outdated(serverOut, "server", "electron", "tsconfig.base.json", "tsconfig.json", "tsconfig.build.json")) {
    // tsc still writes JavaScript when the code has type errors; say so, and run what was built.
    if (!npmRun("build:server")) say("the TypeScript build reported errors (see above); running what it produced.");
  }
  if (!fs.existsSync(path.join(root, "renderer", "index.html"))) {
    say("no UI sources yet (renderer/index.html); the server will run with its API only.");
  } else if (outdated("dist/renderer/index.html", "renderer", "vite.config.ts")) {
    if (!npmRun("build:renderer")) say("the UI build failed (see above); the server will run with its API only.");
  }
}

/**
 * Passes Ctrl+C and SIGTERM on to the child and exits with its code. The child runs in its own
 * process group (see `spawnOptions`), so a terminal's Ctrl+C reaches it only through here; and
 * since npm also forwards the Ctrl+C it gets, a repeat within a second is the same keypress and is
 * dropped (the server reads a second SIGINT as "exit now, skip the graceful shutdown").
 */
function supervise(child) {
  let last = 0;
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      const now = Date.now();
      if (now - last < 1000) return;
      last = now;
      child.kill(signal);
    });
  }
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  // Its own process group would otherwise outlive us if we were stopped some other way.
  process.on("exit", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  child.on("error", (err) => {
    say(`could not start: ${err.message}`);
    process.exit(1);
  });
}

function runDesktop(bin) {
  build({ electron: true });
  if (!fs.existsSync(path.join(root, "dist", "electron", "main.js"))) {
    say("dist/electron/main.js is missing: build with `npm run build` first.");
    process.exit(1);
  }
  say(`starting the desktop app with ${bin}`);
  supervise(spawn(bin, [root], { ...spawnOptions, stdio: "inherit" }));
}

function runHeadless() {
  build({ electron: false });
  const built = path.join(root, "dist", "server", "cli.js");
  // Without a build, tsx runs the server straight from its TypeScript sources.
  const cmd = fs.existsSync(built) ? [built] : ["--import", "tsx", path.join(root, "server", "cli.ts")];
  const child = spawn(process.execPath, [...cmd, "serve", ...serveArgs], {
    ...spawnOptions,
    stdio: ["inherit", "pipe", "inherit"],
  });
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    console.log(line);
    const url = /\bhttps?:\/\/[^\s()]+/.exec(line)?.[0];
    if (url && /ready/i.test(line)) {
      const ui = fs.existsSync(path.join(root, "dist", "renderer", "index.html"));
      say(ui ? `open the Hearth UI at ${url}/` : `the API is at ${url}/v1 (no UI build to serve)`);
      say("press Ctrl+C to stop");
    }
  });
  supervise(child);
}

const electron = forceHeadless ? { bin: null, reason: "--headless was given" } : findElectronBinary();
if (electron.bin) runDesktop(electron.bin);
else {
  say(`no Electron binary is available: ${electron.reason}.`);
  say("running the headless Hearth server with the UI instead.");
  runHeadless();
}
