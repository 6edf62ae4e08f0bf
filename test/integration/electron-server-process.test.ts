/**
 * The shell's supervisor driving the REAL Hearth server as its child: ready line, token auth,
 * crash -> restart with a notice, graceful stop, forced stop, giving up, the utilityProcess
 * adapter (Electron's API surface faked over a real Node fork of the same server), and the
 * server's helper processes started by main (child-host.ts) through the same fake.
 */
import { EventEmitter, once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { hostChildren } from "../../electron/child-host.js";
import { ServerSupervisor, utilityLauncher, type ServerStatus } from "../../electron/server-process.js";
import type { FromParentMessage } from "../../server/util/disposable-child.js";
import {
  fakeUtilityProcess,
  isAlive,
  nextStatus,
  realServerLauncher,
  repoRoot,
  serverTestEnv,
  tempDir,
  waitGone,
} from "../helpers/electron-server.js";
import { engineCrashGgufs } from "../helpers/gguf-corpus.js";
import { testModelPath } from "../helpers/models.js";
import { scriptedModel } from "../helpers/scripted-models.js";

const TOKEN = "test-token-0123456789abcdef";
const dirs: string[] = [];
const supervisors: ServerSupervisor[] = [];

function supervisor(overrides: Partial<ConstructorParameters<typeof ServerSupervisor>[0]> = {}): ServerSupervisor {
  const dataDir = tempDir("hearth-sup-");
  dirs.push(dataDir);
  const s = new ServerSupervisor({
    launch: realServerLauncher(),
    dataDir,
    uiToken: TOKEN,
    // Tests run side by side: any free port, unless a test is about the default.
    port: 0,
    baseEnv: serverTestEnv(),
    backoffInitialMs: 50,
    ...overrides,
  });
  supervisors.push(s);
  return s;
}

after(async () => {
  await Promise.all(supervisors.map((s) => s.stop()));
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("ServerSupervisor with the real server", () => {
  test("starts, reports the URL from the ready line; local tools need no key, as with hearth serve", async () => {
    const s = supervisor();
    const url = await s.start();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s.status.state, "running");
    assert.equal((await fetch(`${url}/health/live`)).status, 200);
    assert.equal((await fetch(`${url}/v1/models`)).status, 200, "an OpenAI client on this computer needs no key");
    assert.equal((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    // The key travels in the environment: the command line (visible to every user) lacks it.
    if (process.platform === "linux") {
      const cmdline = fs.readFileSync(`/proc/${s.status.pid}/cmdline`, "utf8");
      assert.ok(!cmdline.includes(TOKEN));
      assert.ok(cmdline.includes("--data-dir"));
    }
    const pid = s.status.pid!;
    const exit = await s.stop();
    assert.deepEqual(exit, { code: 0, signal: null, forced: false });
    assert.equal(s.status.state, "stopped");
    await waitGone(pid);
  });

  test("with an API key set, tools need it and the window's token still works", async () => {
    const s = supervisor({ extraEnv: { HEARTH_API_KEY: "the-users-own-key" } });
    const url = await s.start();
    const status = (auth?: string) =>
      fetch(`${url}/v1/models`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {}).then((r) => r.status);
    assert.equal(await status(), 401);
    assert.equal(await status("the-users-own-key"), 200);
    assert.equal(await status(TOKEN), 200, "the window's token");
    assert.equal(await status("something-else-entirely"), 401);
    await s.stop();
  });

  test("without a port it binds the server's own setting, and a free port when that one is taken", async () => {
    const dataDir = tempDir("hearth-sup-port-");
    dirs.push(dataDir);
    // A port that is free now, written where the Settings screen writes it.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const wanted = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    fs.writeFileSync(path.join(dataDir, "settings.json"), JSON.stringify({ port: wanted }));
    const first = supervisor({ dataDir, port: undefined });
    assert.equal(new URL(await first.start()).port, String(wanted), "the saved port");
    // A second app (or a hearth serve) already has it: this one still starts, elsewhere.
    const second = supervisor({ dataDir, port: undefined });
    const url = await second.start();
    assert.notEqual(new URL(url).port, String(wanted));
    assert.equal((await fetch(`${url}/health/live`)).status, 200);
    await second.stop();
    await first.stop();
  });

  test("kill -9 -> the crash is reported with its reason, the server comes back on the same port", async () => {
    const s = supervisor();
    const statuses: ServerStatus[] = [];
    s.on("status", (st) => statuses.push(st));
    const url = await s.start();
    const firstPid = s.status.pid!;
    const back = nextStatus(s, (st) => st.state === "running" && st.pid !== firstPid);
    process.kill(firstPid, "SIGKILL");
    const running = await back;
    const notice = statuses.find((st) => st.state === "restarting");
    assert.ok(notice, "a restarting status was sent");
    assert.match(notice.message, /killed by SIGKILL/);
    assert.equal(running.restarts, 1);
    assert.equal(running.url, url, "the restart reuses the port, so the window's origin stays the same");
    assert.equal(isAlive(firstPid), false);
    assert.equal((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    const secondPid = running.pid!;
    await s.stop();
    await waitGone(secondPid);
  });

  test("a server that ignores SIGTERM is killed after the stop timeout", async () => {
    const s = supervisor({ stopTimeoutMs: 300 });
    await s.start();
    const pid = s.status.pid!;
    // A stopped process cannot run its SIGTERM handler; only SIGKILL ends it.
    process.kill(pid, "SIGSTOP");
    const exit = await s.stop();
    assert.equal(exit?.forced, true);
    assert.equal(exit?.signal, "SIGKILL");
    await waitGone(pid);
  });

  test("a server that cannot start is retried, then given up with its error", async () => {
    const s = supervisor({ maxCrashes: 2, extraArgs: ["--gpu", "not-a-backend"] });
    const statuses: ServerStatus[] = [];
    s.on("status", (st) => statuses.push(st));
    await assert.rejects(s.start(), /exited with code 2.*crashed 3 times[\s\S]*gpu/);
    assert.equal(s.status.state, "failed");
    assert.equal(statuses.filter((st) => st.state === "restarting" && /Restarting in/.test(st.message)).length, 2);
    assert.ok(
      s.recentLog.some((l) => /gpu/.test(l)),
      "the server's own error line is kept",
    );
  });

  test("stop() while a restart is pending cancels it and leaves nothing running", async () => {
    const s = supervisor({ backoffInitialMs: 60_000 });
    await s.start();
    const pid = s.status.pid!;
    const restarting = nextStatus(s, (st) => st.state === "restarting");
    process.kill(pid, "SIGKILL");
    await restarting;
    assert.equal(await s.stop(), null);
    assert.equal(s.status.state, "stopped");
    await waitGone(pid);
  });
});

describe("utilityLauncher", () => {
  test("drives the real server through Electron's utilityProcess API surface", async () => {
    const { api, forks } = fakeUtilityProcess();
    const s = supervisor({
      launch: utilityLauncher(api, { entry: path.join(repoRoot, "server", "cli.ts") }),
    });
    const url = await s.start();
    assert.equal(forks.length, 1);
    assert.equal(forks[0]?.env?.HEARTH_UI_TOKEN, TOKEN);
    assert.deepEqual(forks[0]?.args.slice(0, 3), ["serve", "--port", "0"]);
    // Secrets travel in the environment: argv is in the process list of every local user.
    assert.ok(!forks[0]!.args.some((a) => a.includes(TOKEN)), forks[0]!.args.join(" "));
    assert.equal((await fetch(`${url}/health/live`)).status, 200);
    const pid = s.status.pid!;
    const exit = await s.stop();
    assert.equal(exit?.code, 0);
    assert.equal(exit?.forced, false);
    await waitGone(pid);
  });
});

describe("the server's helper processes in the desktop app (child-host.ts)", () => {
  const engineDir = (program: string) => path.join("engine", `${program}-child.ts`);

  test("start as utility processes of main: a file that crashes llama.cpp is listed broken, a template is checked, the server stays up", async () => {
    // A utility process cannot run Node programs itself (the runAsNode fuse is off in the app), so
    // the server must ask main: every helper shows up as a fork of the (fake) utilityProcess API.
    const models = tempDir("hearth-sup-models-");
    dirs.push(models);
    const crash = engineCrashGgufs(fs.readFileSync(await testModelPath())).get("tensor-type-unsupported")!;
    fs.writeFileSync(path.join(models, "crashes.gguf"), crash.bytes);
    fs.copyFileSync(scriptedModel("qwen3-answer"), path.join(models, "templated.gguf"));
    const { api, forks } = fakeUtilityProcess();
    const s = supervisor({
      launch: utilityLauncher(api, {
        entry: path.join(repoRoot, "server", "cli.ts"),
        children: { serverDir: path.join(repoRoot, "server"), ext: ".ts" },
      }),
      extraArgs: ["--model-dirs", models, "--ctx-size", "256", "--parallel", "1"],
    });
    const url = await s.start();
    assert.equal(forks[0]?.env?.HEARTH_CHILD_PROCESSES, "parent");
    const chat = (model: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "Hello" }], max_tokens: 2 }),
        signal: AbortSignal.timeout(120_000),
      });

    const broken = await chat("crashes");
    const error = ((await broken.json()) as { error: { code: string; message: string } }).error;
    assert.equal(broken.status, 400, error.message);
    assert.equal(error.code, "model_unusable");
    assert.match(error.message, /llama\.cpp crashed \(SIGABRT\) while evaluating a prompt: binary-ops\.cpp:\d+/);
    assert.equal((await fetch(`${url}/health/live`)).status, 200, "the server outlived the crash");
    assert.equal(s.status.restarts, 0);
    const listed = (await (await fetch(`${url}/api/models`)).json()) as { models: { id: string; status: string }[] };
    assert.equal(listed.models.find((m) => m.id === "crashes")?.status, "broken");
    const probes = forks.filter((f) => f.modulePath.endsWith(engineDir("load-probe")));
    assert.equal(probes.length, 1, "main started the probe");
    assert.equal(probes[0]?.env?.HEARTH_UI_TOKEN, undefined, "a helper's environment holds no secrets");
    assert.equal(probes[0]?.env?.HEARTH_HELPER, "load-probe", "and is never empty, which would inherit main's");

    const ok = await chat("templated");
    assert.equal(ok.status, 200, await ok.text());
    const checkers = forks.filter((f) => f.modulePath.endsWith(engineDir("template-check")));
    assert.ok(checkers.length >= 1, "main started the template checker");
    assert.deepEqual(checkers[0]?.execArgv, ["--max-old-space-size=128"]);
    assert.ok(!s.recentLog.some((l) => /chat template was refused/.test(l)), s.recentLog.join("\n"));
    for (const f of forks.slice(1)) await waitGone(f.pid!);
  });

  test("main starts only the server's programs, a bounded number at once, relays their output, and kills them", async () => {
    const { api, forks } = fakeUtilityProcess();
    const fromServer = new EventEmitter();
    const posted: FromParentMessage[] = [];
    const arrived = new EventEmitter();
    const host = hostChildren(
      {
        postMessage: (m) => {
          posted.push(m as FromParentMessage);
          arrived.emit("message");
        },
        on: (event, listener) => fromServer.on(event, listener),
      },
      api,
      { serverDir: path.join(repoRoot, "server"), ext: ".ts", maxChildren: 1 },
    );
    const exitOf = async (id: number) => {
      for (;;) {
        const exit = posted.find((m) => m.type === "hearth:child-exit" && m.id === id);
        if (exit) return exit as Extract<FromParentMessage, { type: "hearth:child-exit" }>;
        await once(arrived, "message");
      }
    };
    const start = (id: number, program: string, template: string) =>
      fromServer.emit("message", {
        type: "hearth:child-start",
        id,
        program,
        input: { template, samples: [{ messages: [{ role: "user", content: "hi" }] }] },
        env: {},
      });

    start(1, "template-check", "{{ messages[0].content }}");
    const done = await exitOf(1);
    assert.deepEqual([done.code, done.signal], [0, null]);
    const out = posted.filter((m) => m.type === "hearth:child-output" && m.id === 1 && m.stream === "stdout");
    assert.match(out.map((m) => (m as { text: string }).text).join(""), /"parsed":true,"sizes":\[2\]/);
    assert.ok(posted.indexOf(done) > posted.indexOf(out.at(-1)!), "the end comes after the output");

    start(2, "shell", "x");
    assert.match((await exitOf(2)).error ?? "", /refused/);
    assert.equal(forks.length, 1, "nothing was started for an unknown program");

    start(3, "template-check", "{% for i in range(10**9) %}{% set x = i %}{% endfor %}");
    start(4, "template-check", "{{ 1 }}");
    assert.match((await exitOf(4)).error ?? "", /at most 1 helper/);
    fromServer.emit("message", { type: "hearth:child-kill", id: 3 });
    const killed = await exitOf(3);
    assert.deepEqual([killed.code, killed.signal], [null, "SIGKILL"]);
    assert.equal(host.size, 0);

    start(5, "template-check", "{% for i in range(10**9) %}{% set x = i %}{% endfor %}");
    while (forks.length < 3) await new Promise((r) => setTimeout(r, 20));
    host.closeAll();
    await waitGone(forks[2]!.pid!);
  });
});
