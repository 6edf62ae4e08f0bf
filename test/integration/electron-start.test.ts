/**
 * `npm start` (scripts/start.mjs) on a machine without an Electron binary: it says so, runs the
 * real headless server with the UI, prints the URL, and stops cleanly on Ctrl+C.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { repoRoot, tempDir } from "../helpers/electron-server.js";

const dataDir = tempDir("hearth-start-");
after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe("npm start without Electron", () => {
  test("explains, runs the headless server, prints its URL, and exits 0 on SIGINT", async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HEARTH_LOG_LEVEL: "warn",
      ELECTRON_BIN: path.join(dataDir, "no-such-electron"),
    };
    delete env.ELECTRON_OVERRIDE_DIST_PATH;
    // --no-build: the test covers what start does, not a 30 s compile (dist/ or the sources both run).
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, "scripts", "start.mjs"), "--no-build", "--port", "0", "--data-dir", dataDir],
      {
        cwd: repoRoot,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const lines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).on("line", (line) => {
        lines.push(line);
        const m = /\[hearth\] (?:open the Hearth UI at|the API is at) (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`start exited early with ${code}:\n${lines.join("\n")}`)));
    });
    assert.match(lines[0] ?? "", /no Electron binary is available: ELECTRON_BIN points to .* which does not exist/);
    assert.match(lines.join("\n"), /running the headless Hearth server/);
    assert.equal((await fetch(`${url}/health/live`)).status, 200);

    child.kill("SIGINT");
    assert.equal(await exited, 0);
    await assert.rejects(fetch(`${url}/health/live`), "the server stopped with it");
  });
});
