/**
 * The shell's supervisor driving the REAL Hearth server as its child: ready line, token auth,
 * crash -> restart with a notice, graceful stop, forced stop, giving up, and the utilityProcess
 * adapter (Electron's API surface faked over a real Node fork of the same server).
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ServerSupervisor,
  utilityLauncher,
  type ServerStatus,
  type UtilityProcessApi,
} from "../../electron/server-process.js";
import {
  isAlive,
  nextStatus,
  realServerLauncher,
  repoRoot,
  serverTestEnv,
  tempDir,
  waitGone,
} from "../helpers/electron-server.js";

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
    // The fake is only Electron's API: fork() is backed by a real Node child running the server.
    const forked: { modulePath: string; args: string[]; env: Record<string, string> | undefined }[] = [];
    const utilityProcess: UtilityProcessApi = {
      fork(modulePath, args = [], options = {}) {
        forked.push({ modulePath, args, env: options.env });
        const child = fork(modulePath, args, {
          env: options.env,
          execArgv: ["--import", "tsx"],
          cwd: repoRoot,
          stdio: ["ignore", "pipe", "pipe", "ipc"],
        });
        return {
          get pid() {
            return child.pid;
          },
          stdout: child.stdout,
          stderr: child.stderr,
          kill: () => child.kill("SIGTERM"),
          postMessage: (m: unknown) => child.send(m as object),
          once: (event: "exit", listener: (code: number) => void) => child.once(event, (code) => listener(code ?? -1)),
        };
      },
    };
    const s = supervisor({
      launch: utilityLauncher(utilityProcess, { entry: path.join(repoRoot, "server", "cli.ts") }),
    });
    const url = await s.start();
    assert.equal(forked.length, 1);
    assert.equal(forked[0]?.env?.HEARTH_UI_TOKEN, TOKEN);
    assert.deepEqual(forked[0]?.args.slice(0, 3), ["serve", "--port", "0"]);
    // Secrets travel in the environment: argv is in the process list of every local user.
    assert.ok(!forked[0]!.args.some((a) => a.includes(TOKEN)), forked[0]!.args.join(" "));
    assert.equal((await fetch(`${url}/health/live`)).status, 200);
    const pid = s.status.pid!;
    const exit = await s.stop();
    assert.equal(exit?.code, 0);
    assert.equal(exit?.forced, false);
    await waitGone(pid);
  });
});
