import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  ConfigError,
  DEFAULT_PORT,
  defaultDataDir,
  envName,
  helpText,
  loadConfig,
  OPTIONS,
} from "../../server/config.js";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "hearth-config-"));

test("defaults are safe and need no configuration", () => {
  const c = loadConfig({ env: {}, overrides: { dataDir: tmp() } });
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, DEFAULT_PORT);
  assert.equal(c.apiKey, undefined);
  assert.deepEqual(c.corsOrigins, []);
  assert.equal(c.threads, 0);
  assert.ok(Object.isFrozen(c));
});

test("command line beats environment beats settings file", () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "settings.json"), JSON.stringify({ port: 1111, threads: 3, maxQueue: 5 }));
  const c = loadConfig({
    argv: ["--data-dir", dir, "--port", "3333"],
    env: { HEARTH_PORT: "2222", HEARTH_THREADS: "2" },
  });
  assert.equal(c.port, 3333);
  assert.equal(c.threads, 2);
  assert.equal(c.maxQueue, 5);
});

test("every flag has an environment variable", () => {
  for (const o of OPTIONS)
    assert.ok(helpText().includes(`HEARTH_${o.flag.toUpperCase().replaceAll("-", "_")}`), o.flag);
});

test("bad values get one clear line each, naming flag and variable", () => {
  assert.throws(
    () =>
      loadConfig({
        argv: ["--port", "99999", "--gpu", "quantum", "--threads", "two"],
        env: {},
        overrides: { dataDir: tmp() },
      }),
    (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /--port \(HEARTH_PORT\)/);
      assert.match(err.message, /--gpu \(HEARTH_GPU\)/);
      assert.match(err.message, /--threads \(HEARTH_THREADS\).*"two"/);
      return true;
    },
  );
});

test("unknown flags and unknown settings keys are refused", () => {
  assert.throws(() => loadConfig({ argv: ["--prot", "1"], env: {} }), ConfigError);
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "settings.json"), JSON.stringify({ porrt: 1 }));
  assert.throws(() => loadConfig({ argv: ["--data-dir", dir], env: {} }), /porrt/);
  fs.writeFileSync(path.join(dir, "settings.json"), "{ not json");
  assert.throws(() => loadConfig({ argv: ["--data-dir", dir], env: {} }), /not valid JSON/);
});

test("a non-loopback bind needs an API key or --insecure", () => {
  const dataDir = tmp();
  assert.throws(
    () => loadConfig({ argv: ["--host", "0.0.0.0"], env: {}, overrides: { dataDir } }),
    /without an API key/,
  );
  assert.equal(
    loadConfig({ argv: ["--host", "0.0.0.0", "--api-key", "long-enough-key"], env: {}, overrides: { dataDir } }).host,
    "0.0.0.0",
  );
  assert.equal(
    loadConfig({ argv: ["--host", "0.0.0.0", "--insecure"], env: {}, overrides: { dataDir } }).insecure,
    true,
  );
  assert.equal(loadConfig({ argv: ["--host", "::1"], env: {}, overrides: { dataDir } }).host, "::1");
});

test("comma lists and booleans parse from strings", () => {
  const c = loadConfig({
    env: { HEARTH_CORS_ORIGINS: "http://a.test, http://b.test", HEARTH_RECORD_API: "off" },
    overrides: { dataDir: tmp() },
  });
  assert.deepEqual(c.corsOrigins, ["http://a.test", "http://b.test"]);
  assert.equal(c.recordApi, false);
});

test("the default data dir follows each OS's convention", () => {
  assert.match(defaultDataDir({ XDG_DATA_HOME: "/x" }, "linux"), /^\/x\/hearth$/);
  assert.match(defaultDataDir({}, "darwin"), /Library\/Application Support\/Hearth$/);
  assert.match(defaultDataDir({ APPDATA: "C:\\Users\\a\\AppData\\Roaming" }, "win32"), /Hearth$/);
});

test("the secrets key comes only from the environment and must be 32 bytes", () => {
  const dataDir = tmp();
  const key = Buffer.alloc(32, 7).toString("base64");
  assert.equal(loadConfig({ env: { HEARTH_SECRETS_KEY: key }, overrides: { dataDir } }).secretsKey, key);
  assert.throws(() => loadConfig({ env: { HEARTH_SECRETS_KEY: "c2hvcnQ=" }, overrides: { dataDir } }), /32 bytes/);
  assert.throws(() => loadConfig({ argv: ["--secrets-key", key], env: {}, overrides: { dataDir } }), ConfigError);
});

test("who starts the helper processes comes only from the environment the desktop shell sets", () => {
  const dataDir = tmp();
  assert.equal(loadConfig({ env: {}, overrides: { dataDir } }).childProcesses, "spawn");
  assert.equal(
    loadConfig({ env: { HEARTH_CHILD_PROCESSES: "parent" }, overrides: { dataDir } }).childProcesses,
    "parent",
  );
  assert.throws(() => loadConfig({ env: { HEARTH_CHILD_PROCESSES: "shell" }, overrides: { dataDir } }), ConfigError);
  fs.writeFileSync(path.join(dataDir, "settings.json"), JSON.stringify({ childProcesses: "parent" }));
  assert.throws(
    () => loadConfig({ env: {}, overrides: { dataDir } }),
    /'childProcesses' comes only from the environment/,
  );
});

test("the README's flag table lists every flag with its environment variable", () => {
  const readme = fs.readFileSync(path.join(import.meta.dirname, "..", "..", "README.md"), "utf8");
  const rows = readme.split("\n").filter((line) => line.startsWith("| `--"));
  const missing = OPTIONS.filter(
    (o) =>
      !rows.some((row) => new RegExp(`^\\| \`--${o.flag}[ \`]`).test(row) && row.includes(`\`${envName(o.flag)}\``)),
  ).map((o) => `--${o.flag}`);
  assert.deepEqual(missing, [], `README.md's flag table lacks ${missing.join(", ")}`);
});

test("--api-key-file reads the key from a file, at the flag's level of precedence; values of secrets are never echoed", () => {
  const dir = tmp();
  const keyFile = path.join(dir, "key.txt");
  fs.writeFileSync(keyFile, "  a-key-from-a-file-123\n");
  assert.equal(
    loadConfig({ argv: ["--api-key-file", keyFile], env: {}, overrides: { dataDir: dir } }).apiKey,
    "a-key-from-a-file-123",
  );
  assert.equal(
    loadConfig({ env: { HEARTH_API_KEY_FILE: keyFile }, overrides: { dataDir: dir } }).apiKey,
    "a-key-from-a-file-123",
  );
  // The command line's file beats the environment's key, and the environment's key beats the settings file's file.
  assert.equal(
    loadConfig({
      argv: ["--api-key-file", keyFile],
      env: { HEARTH_API_KEY: "env-key-123456" },
      overrides: { dataDir: dir },
    }).apiKey,
    "a-key-from-a-file-123",
  );
  fs.writeFileSync(path.join(dir, "settings.json"), JSON.stringify({ apiKeyFile: keyFile }));
  assert.equal(
    loadConfig({ env: { HEARTH_API_KEY: "env-key-123456" }, overrides: { dataDir: dir } }).apiKey,
    "env-key-123456",
  );
  assert.equal(loadConfig({ env: {}, overrides: { dataDir: dir } }).apiKey, "a-key-from-a-file-123");
  fs.rmSync(path.join(dir, "settings.json"));
  assert.throws(
    () =>
      loadConfig({
        argv: ["--api-key-file", keyFile, "--api-key", "other-key-123"],
        env: {},
        overrides: { dataDir: dir },
      }),
    /not both/,
  );
  assert.throws(
    () => loadConfig({ argv: ["--api-key-file", path.join(dir, "missing")], env: {}, overrides: { dataDir: dir } }),
    /--api-key-file \(HEARTH_API_KEY_FILE\): cannot read/,
  );
  fs.writeFileSync(keyFile, "short\n");
  assert.throws(
    () => loadConfig({ argv: ["--api-key-file", keyFile], env: {}, overrides: { dataDir: dir } }),
    (err: Error) => /at least 8 characters/.test(err.message) && !err.message.includes("short"),
  );
  assert.throws(
    () =>
      loadConfig({
        argv: ["--api-key", "shortkey1"],
        env: { HEARTH_SECRETS_KEY: "not-base64-of-32-bytes-secret" },
        overrides: { dataDir: dir },
      }),
    (err: Error) => /32 bytes/.test(err.message) && !err.message.includes("not-base64-of-32-bytes-secret"),
  );
});

test("speculative decoding: off by default; flags, environment and settings file set it", () => {
  const dataDir = tmp();
  const defaults = loadConfig({ env: {}, overrides: { dataDir } });
  assert.equal(defaults.promptLookup, false);
  assert.equal(defaults.draftModel, undefined);
  assert.equal(defaults.draftMax, 8);
  const flags = loadConfig({
    argv: ["--prompt-lookup", "--draft-model", "small.gguf", "--draft-max", "4"],
    env: {},
    overrides: { dataDir },
  });
  assert.deepEqual([flags.promptLookup, flags.draftModel, flags.draftMax], [true, "small.gguf", 4]);
  assert.equal(loadConfig({ env: { HEARTH_PROMPT_LOOKUP: "on" }, overrides: { dataDir } }).promptLookup, true);
  fs.writeFileSync(path.join(dataDir, "settings.json"), JSON.stringify({ promptLookup: true, draftMax: 2 }));
  const file = loadConfig({ env: {}, overrides: { dataDir } });
  assert.deepEqual([file.promptLookup, file.draftMax], [true, 2]);
  assert.throws(
    () => loadConfig({ argv: ["--draft-max", "65"], env: {}, overrides: { dataDir } }),
    /draftMax|draft-max/,
  );
});
