/** `hearth serve` as a process: the ready line, config errors, and SIGTERM. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { test } from "node:test";
import { testModelPath } from "../helpers/models.js";
import { spawnHearth } from "../helpers/cli-process.js";

const cli = ["--import", "tsx", "server/cli.ts", "serve"];

test("prints one ready line with its URL, serves, and exits 0 on SIGTERM mid-stream", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-cli-"));
  const child = spawn(
    process.execPath,
    [
      ...cli,
      "--model",
      await testModelPath(),
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--threads",
      "1",
      "--shutdown-grace",
      "2",
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HEARTH_LOG_LEVEL: "info" },
    },
  );
  let stdout = "";
  let stderr = "";
  try {
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = stdout.match(/http:\/\/127\.0\.0\.1:\d+/);
        if (m) resolve(m[0]);
      });
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    assert.equal(stdout.trim().split("\n").length, 1, "exactly one line on stdout");
    // Logs are JSON lines on stderr, and mention the engine's threads and parallel sequences.
    // JSON logs on stderr are written asynchronously, so they may trail the ready line.
    const findEngineLine = () => stderr.split("\n").find((l) => l.includes('"engine ready"'));
    for (let i = 0; i < 100 && !findEngineLine(); i++) await new Promise((r) => setTimeout(r, 50));
    const engineLine = findEngineLine();
    assert.ok(engineLine, stderr);
    const engine = JSON.parse(engineLine) as { threads: number; parallel: number; build: string };
    assert.equal(engine.threads, 1);
    assert.ok(engine.parallel >= 1);

    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "stories260K",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 1500,
        stream: true,
      }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    child.kill("SIGTERM");
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += Buffer.from(value).toString();
    }
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 0, stderr);
    assert.ok(
      rest.endsWith("data: [DONE]\n\n") || rest.includes('"error"'),
      "the stream finished or ended with an error event",
    );
  } finally {
    child.kill("SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a bad flag value exits 2 with a message naming it", async () => {
  const child = spawn(process.execPath, [...cli, "--port=-3"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, "exit")) as [number];
  assert.equal(code, 2);
  assert.match(stderr, /--port \(HEARTH_PORT\)/);
});

test("--engine-binary picks the llama.cpp binary, and 'local' without a build refuses to start", async () => {
  const model = await testModelPath();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-cli-binary-"));
  try {
    const prebuilt = await spawnHearth([
      "--model",
      model,
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--threads",
      "1",
      "--engine-binary",
      "prebuilt",
    ]);
    try {
      const health = (await (await fetch(`${prebuilt.url}/health`)).json()) as {
        engine: { build: string; variant: string } | null;
      };
      assert.equal(health.engine?.build, "prebuilt");
      assert.equal(health.engine?.variant, "prebuilt");
    } finally {
      prebuilt.child.kill("SIGTERM");
      await prebuilt.exited;
    }
    // `npm run build:engine` puts its build here; CI and a fresh clone have none.
    const localBuilds = path.join("node_modules", "node-llama-cpp", "llama", "localBuilds");
    const hasLocalBuild = fs.existsSync(localBuilds) && fs.readdirSync(localBuilds).length > 0;
    if (hasLocalBuild) {
      const local = await spawnHearth([
        "--port",
        "0",
        "--data-dir",
        dataDir,
        "--threads",
        "1",
        "--engine-binary",
        "local",
        "--model",
        model,
      ]);
      try {
        const health = (await (await fetch(`${local.url}/health`)).json()) as {
          engine: { build: string; variant: string } | null;
        };
        assert.equal(health.engine?.build, "localBuild");
        assert.ok(
          ["native", "portable"].includes(health.engine?.variant ?? ""),
          `a local build is native or portable (${health.engine?.variant})`,
        );
      } finally {
        local.child.kill("SIGTERM");
        await local.exited;
      }
    } else {
      // No model: the missing build is reported at start all the same.
      const child = spawn(
        process.execPath,
        [...cli, "--port", "0", "--data-dir", dataDir, "--engine-binary", "local"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const [code] = (await once(child, "exit")) as [number];
      assert.equal(code, 1, stderr);
      assert.match(stderr, /No local llama\.cpp build found: run `npm run build:engine` first/);
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test("--api-key-file keeps the key out of the process list; --api-key is warned about", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-cli-keyfile-"));
  const key = "key-from-a-file-7c1e9a";
  const keyFile = path.join(dataDir, "api-key");
  fs.writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  const withFile = await spawnHearth(["--port", "0", "--data-dir", dataDir, "--api-key-file", keyFile]);
  try {
    assert.equal((await fetch(`${withFile.url}/v1/models`)).status, 401);
    assert.equal(
      (await fetch(`${withFile.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status,
      200,
    );
    if (process.platform === "linux") {
      const cmdline = fs.readFileSync(`/proc/${withFile.child.pid}/cmdline`, "utf8");
      assert.ok(cmdline.includes("--api-key-file") && !cmdline.includes(key), cmdline);
    }
    assert.doesNotMatch(withFile.stderr(), /process list/);
  } finally {
    withFile.child.kill("SIGTERM");
    await withFile.exited;
  }
  const withFlag = await spawnHearth(["--port", "0", "--data-dir", dataDir, "--api-key", key]);
  withFlag.child.kill("SIGTERM");
  await withFlag.exited;
  fs.rmSync(dataDir, { recursive: true, force: true });
  assert.match(withFlag.stderr(), /--api-key shows in the process list.*HEARTH_API_KEY or --api-key-file/);
});

test("--ollama-port serves Ollama's API beside the main port and names it in the ready line", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-cli-ollama-"));
  const hearth = await spawnHearth(["--port", "0", "--ollama-port", "0", "--data-dir", dataDir]);
  try {
    const line = hearth
      .stdout()
      .split("\n")
      .find((l) => l.startsWith("Hearth is ready at"))!;
    const ollama = /Ollama API: (http:\/\/127\.0\.0\.1:\d+)\)$/.exec(line)?.[1];
    assert.ok(ollama, line);
    assert.notEqual(ollama, hearth.url);
    const version = (await (await fetch(`${ollama}/api/version`)).json()) as { version: string };
    assert.match(version.version, /^\d+\.\d+\.\d+$/);
    assert.equal((await fetch(`${hearth.url}/api/version`)).status, 404, "not on the main port");
  } finally {
    hearth.child.kill("SIGTERM");
    await hearth.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
