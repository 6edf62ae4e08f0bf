/**
 * What other users of the machine, and readers of the logs, can learn: the data folder Hearth
 * creates and the history database (with its WAL and shared-memory files) are the owner's alone;
 * the desktop app's log file too; request logs at the default level name the path, never the query
 * string (search terms, `?api_key=`); the unauthenticated /health names model files, never where
 * they are on disk.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { openServerLog } from "../../electron/shell.js";
import { createServer } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { openHistoryDatabase, closeHistoryDatabase } from "../../server/history/db.js";
import { createLogger } from "../../server/logger.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest } from "../helpers/raw-http.js";

const posix = process.platform !== "win32";
const modeOf = (p: string) => fs.statSync(p).mode & 0o777;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-privacy-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("files", { skip: posix ? false : "POSIX permissions" }, () => {
  test("a data folder Hearth creates is 0700; history.sqlite, its WAL and SHM are 0600", async () => {
    const dataDir = path.join(tmp, "fresh", "hearth");
    const server = createServer(
      loadConfig({ env: {}, overrides: { dataDir, port: 0, logLevel: "silent", threads: 1 } }),
      { logger: createLogger("silent") },
    );
    try {
      const url = await server.start();
      // A write, so the WAL has content while the server runs.
      const res = await rawRequest(url, { path: "/api/conversations", body: JSON.stringify({ title: "private" }) });
      assert.equal(res.status, 201, res.body);
      assert.equal(modeOf(dataDir), 0o700, "the data folder");
      for (const f of ["history.sqlite", "history.sqlite-wal", "history.sqlite-shm"]) {
        assert.ok(fs.existsSync(path.join(dataDir, f)), `${f} exists while the server runs`);
        assert.equal(modeOf(path.join(dataDir, f)), 0o600, f);
      }
    } finally {
      await server.close();
    }
  });

  test("a database an older Hearth left readable by others is narrowed to 0600 when opened", () => {
    const dir = path.join(tmp, "old");
    fs.mkdirSync(dir);
    const file = path.join(dir, "history.sqlite");
    closeHistoryDatabase(openHistoryDatabase(file));
    fs.writeFileSync(`${file}-wal`, "");
    fs.chmodSync(file, 0o644);
    fs.chmodSync(`${file}-wal`, 0o644);
    const db = openHistoryDatabase(file);
    try {
      assert.equal(modeOf(file), 0o600);
      assert.equal(modeOf(`${file}-wal`), 0o600);
      assert.equal(modeOf(`${file}-shm`), 0o600);
    } finally {
      closeHistoryDatabase(db);
    }
  });

  test("the desktop app's logs/server.log is 0600 in a 0700 folder, an existing one included", async () => {
    const userData = path.join(tmp, "user-data");
    fs.mkdirSync(path.join(userData, "logs"), { recursive: true, mode: 0o755 });
    fs.chmodSync(path.join(userData, "logs"), 0o755);
    fs.writeFileSync(path.join(userData, "logs", "server.log"), "old line\n", { mode: 0o644 });
    const log = openServerLog(userData);
    assert.ok(log);
    await new Promise<void>((resolve) => log.end("a line\n", resolve));
    assert.equal(modeOf(path.join(userData, "logs")), 0o700);
    assert.equal(modeOf(path.join(userData, "logs", "server.log")), 0o600);
    const fresh = path.join(tmp, "user-data-fresh");
    const second = openServerLog(fresh);
    await new Promise<void>((resolve) => second!.end("x\n", resolve));
    assert.equal(modeOf(path.join(fresh, "logs")), 0o700);
    assert.equal(modeOf(path.join(fresh, "logs", "server.log")), 0o600);
  });
});

describe("what the server tells", () => {
  test("request logs at the default level name the path, never the query string", async () => {
    const lines: string[] = [];
    const server = createServer(
      loadConfig({
        env: {},
        overrides: { dataDir: path.join(tmp, "logs"), port: 0, threads: 1, apiKey: "the-servers-own-key" },
      }),
      { logger: createLogger("info", { write: (line: string) => void lines.push(line) }) },
    );
    try {
      const url = await server.start();
      const auth = { authorization: "Bearer the-servers-own-key" };
      assert.equal(
        (await rawRequest(url, { path: "/api/search?q=my%20private%20diagnosis", headers: auth })).status,
        200,
      );
      // A client that puts its key in the URL: refused, and the key stays out of the log.
      assert.equal((await rawRequest(url, { path: "/v1/models?api_key=sk-typed-into-a-url-123" })).status, 401);
      // An unknown id: 404, and neither the id nor the format reaches the log.
      assert.equal(
        (await rawRequest(url, { path: "/api/export?ids=conv_secretid&format=json", headers: auth })).status,
        404,
      );
    } finally {
      await server.close();
    }
    const log = lines.join("");
    assert.match(log, /GET \/api\/search 200/);
    assert.match(log, /"url":"\/v1\/models"/);
    assert.match(log, /GET \/api\/export 404/);
    for (const secret of ["diagnosis", "private", "sk-typed-into-a-url-123", "api_key", "conv_secretid", "format=json"])
      assert.ok(!log.includes(secret), `the log holds '${secret}'`);
  });

  test("the unauthenticated /health names loaded models by file name, never their path", async () => {
    const model = await testModelPath();
    const server = createServer(
      loadConfig({ env: {}, overrides: { dataDir: path.join(tmp, "health"), port: 0, threads: 1, model } }),
      { logger: createLogger("silent") },
    );
    try {
      const url = await server.start();
      const res = await rawRequest(url, { path: "/health" });
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body) as { models: { id: string; file?: string }[] };
      assert.equal(body.models.length, 1);
      assert.equal(body.models[0]!.file, path.basename(model));
      assert.ok(!res.body.includes(path.dirname(model)), `no folder in ${res.body}`);
    } finally {
      await server.close();
    }
  });
});
