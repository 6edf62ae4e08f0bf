/**
 * Hearth as an MCP host (server/mcp/): real MCP servers from npm (the everything server over stdio
 * and Streamable HTTP, the filesystem server over stdio) configured in `<data-dir>/mcp.json` and
 * through /api/mcp/servers, started on demand, called with the runner's bounds (a server that dies
 * mid-call, a tool that hangs, a result of several MB) and stopped with Hearth.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { McpServerView } from "../../server/wire/mcp.js";
import { everythingHttp, everythingStdio, filesystemStdio } from "../helpers/mcp-servers.js";
import { waitFor } from "../helpers/remote.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const KEY = "mcp-host-key";
const SETTINGS_TOKEN = "a-settings-token-of-at-least-32-characters";

function api(
  t: TestServer,
  p: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  return fetch(`${t.url}${p}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      authorization: `Bearer ${KEY}`,
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("MCP servers: configuration, registry and runner", () => {
  let t: TestServer;
  let files: string;
  let http: Awaited<ReturnType<typeof everythingHttp>>;
  const call = (server: string, tool: string, args: Record<string, unknown>, timeoutMs = 20_000, maxChars = 1 << 20) =>
    t.server.context.mcp.call(server, tool, args, { signal: new AbortController().signal, timeoutMs, maxChars });

  before(async () => {
    files = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-mcp-files-"));
    fs.writeFileSync(path.join(files, "big.txt"), "0123456789abcdef".repeat(400_000)); // 6.4 MB
    http = await everythingHttp();
    // A variable of Hearth's own process that no MCP server may see.
    process.env.HEARTH_MCP_TEST_LEAK = "leaked-value";
    t = await startTestServer({ apiKey: KEY, settingsToken: SETTINGS_TOKEN }, { withModel: false });
    fs.writeFileSync(
      path.join(t.dataDir, "mcp.json"),
      JSON.stringify({
        mcpServers: {
          everything: everythingStdio({ GIVEN_VAR: "given-value" }),
          files: filesystemStdio(files),
          web: { type: "http", url: http.url },
          broken: { command: process.execPath, args: ["-e", "process.stderr.write('no such thing'); process.exit(3)"] },
        },
        otherAppSetting: true,
      }),
    );
  });

  after(async () => {
    delete process.env.HEARTH_MCP_TEST_LEAK;
    await t?.close();
    await http?.close();
    fs.rmSync(files, { recursive: true, force: true });
  });

  test("mcp.json's servers are listed, stopped until used; a use starts one and lists its tools", async () => {
    const list = (await (await api(t, "/api/mcp/servers")).json()) as { data: McpServerView[]; file: string };
    assert.equal(list.file, path.join(t.dataDir, "mcp.json"));
    assert.deepEqual(
      list.data.map((s) => [s.name, s.source, s.transport, s.state]),
      [
        ["broken", "file", "stdio", "stopped"],
        ["everything", "file", "stdio", "stopped"],
        ["files", "file", "stdio", "stopped"],
        ["web", "file", "http", "stopped"],
      ],
    );
    const everything = list.data.find((s) => s.name === "everything")!;
    assert.deepEqual(everything.env, ["GIVEN_VAR"], "env is named, never answered");
    assert.ok(!JSON.stringify(list).includes("given-value"));

    const started = (await (
      await api(t, "/api/mcp/servers/everything/restart", { method: "POST" })
    ).json()) as McpServerView;
    assert.equal(started.state, "running");
    const echo = started.tools.find((x) => x.name === "echo");
    assert.equal(echo?.functionName, "everything__echo");
    assert.equal((echo?.inputSchema.properties as Record<string, unknown>).message !== undefined, true);
  });

  test("a stdio server gets its own env and the SDK's defaults, never Hearth's environment", async () => {
    const result = await call("everything", "get-env", {});
    assert.equal(result.outcome, "ok");
    assert.match(result.text, /given-value/);
    assert.doesNotMatch(result.text, /leaked-value/);
  });

  test("tools are called over stdio and Streamable HTTP", async () => {
    assert.deepEqual(
      { ...(await call("everything", "echo", { message: "over stdio" })), durationMs: 0 },
      { outcome: "ok", text: "Echo: over stdio", truncatedFrom: null, durationMs: 0 },
    );
    const web = await call("web", "echo", { message: "over http" });
    assert.equal(web.outcome, "ok");
    assert.equal(web.text, "Echo: over http");
    assert.equal((await call("web", "no-such-tool", {})).outcome, "error");
  });

  test("a server that cannot start is in error with what it said; a call to it is an error result", async () => {
    const result = await call("broken", "anything", {});
    assert.equal(result.outcome, "error");
    const view = (await (await api(t, "/api/mcp/servers/broken")).json()) as McpServerView;
    assert.equal(view.state, "error");
    assert.match(view.error ?? "", /no such thing/);
  });

  test("a result of several MB is cut to the bound with a note", async () => {
    const result = await call("files", "read_text_file", { path: path.join(files, "big.txt") }, 30_000, 100_000);
    assert.equal(result.outcome, "ok");
    assert.equal(result.truncatedFrom, 6_400_000);
    assert.ok(result.text.startsWith("0123456789abcdef"));
    assert.ok(result.text.length < 100_200);
    assert.match(result.text, /Hearth cut this tool result at 100,000 of its 6,400,000 characters/);
  });

  test("a tool that hangs ends as a timeout; a server that dies mid-call as crashed, and starts again", async () => {
    const hung = await call("everything", "trigger-long-running-operation", { duration: 30, steps: 30 }, 1500);
    assert.equal(hung.outcome, "timeout");
    assert.match(hung.text, /did not answer within 1.5 s/);

    const pid = t.server.context.mcp.pidOf("everything")!;
    assert.ok(pid > 0);
    const pending = call("everything", "trigger-long-running-operation", { duration: 30, steps: 30 }, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pid, "SIGKILL");
    const crashed = await pending;
    assert.equal(crashed.outcome, "crashed");
    const view = (await (await api(t, "/api/mcp/servers/everything")).json()) as McpServerView;
    assert.equal(view.state, "error");
    assert.equal((await call("everything", "echo", { message: "again" })).text, "Echo: again");
    assert.notEqual(t.server.context.mcp.pidOf("everything"), pid);
  });

  test("a stopped call (the user's Stop) ends at once as stopped", async () => {
    const controller = new AbortController();
    const pending = t.server.context.mcp.call(
      "everything",
      "trigger-long-running-operation",
      { duration: 30, steps: 30 },
      { signal: controller.signal, timeoutMs: 60_000, maxChars: 1000 },
    );
    setTimeout(() => controller.abort(), 200);
    assert.equal((await pending).outcome, "stopped");
  });

  test("servers added through the API: headers and env are write-only, 0600, commands need the desktop app", async () => {
    const refused = await api(t, "/api/mcp/servers", { body: { name: "sneaky", command: "touch", args: ["/tmp/x"] } });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "command_not_allowed");

    const added = await api(t, "/api/mcp/servers", {
      body: { name: "remote", url: http.url, headers: { Authorization: "Bearer header-secret-123" } },
    });
    assert.equal(added.status, 201);
    const view = (await added.json()) as McpServerView;
    assert.deepEqual([view.source, view.transport, view.headers], ["settings", "http", ["Authorization"]]);
    assert.equal((await call("remote", "echo", { message: "with headers" })).text, "Echo: with headers");

    const withCommand = await api(t, "/api/mcp/servers", {
      body: { name: "local", ...everythingStdio({ API_TOKEN: "env-secret-456" }) },
      headers: { "x-hearth-settings-token": SETTINGS_TOKEN },
    });
    assert.equal(withCommand.status, 201);
    assert.equal((await call("local", "echo", { message: "added" })).text, "Echo: added");
    const patched = await api(t, "/api/mcp/servers/local", { method: "PATCH", body: { env: { OTHER: "x" } } });
    assert.equal(patched.status, 403, "changing a command's environment needs the desktop app too");

    const everything = JSON.stringify(await (await api(t, "/api/mcp/servers")).json());
    assert.ok(!everything.includes("header-secret-123") && !everything.includes("env-secret-456"));
    const kept = fs.readFileSync(path.join(t.dataDir, "mcp-servers.json"), "utf8");
    assert.ok(!kept.includes("header-secret-123") && !kept.includes("env-secret-456"), "no secret in the server list");
    assert.equal(fs.statSync(path.join(t.dataDir, "mcp-servers.json")).mode & 0o777, 0o600);
    const secrets = fs.readFileSync(path.join(t.dataDir, "secrets.json"), "utf8");
    assert.ok(secrets.includes("header-secret-123") && secrets.includes("env-secret-456"));
    assert.equal(fs.statSync(path.join(t.dataDir, "secrets.json")).mode & 0o777, 0o600);

    const fromFile = await api(t, "/api/mcp/servers/everything", { method: "DELETE" });
    assert.equal(fromFile.status, 409, "a server of mcp.json is changed in the file");
    assert.equal((await api(t, "/api/mcp/servers/remote", { method: "DELETE" })).status, 204);
    assert.ok(!fs.readFileSync(path.join(t.dataDir, "secrets.json"), "utf8").includes("header-secret-123"));
  });

  test("mcp.json is read again when it changes: a removed server is stopped", async () => {
    await call("files", "list_allowed_directories", {});
    const pid = t.server.context.mcp.pidOf("files")!;
    assert.ok(alive(pid));
    const file = path.join(t.dataDir, "mcp.json");
    const config = JSON.parse(fs.readFileSync(file, "utf8")) as { mcpServers: Record<string, unknown> };
    delete config.mcpServers.files;
    fs.writeFileSync(file, JSON.stringify(config));
    const names = ((await (await api(t, "/api/mcp/servers")).json()) as { data: McpServerView[] }).data.map(
      (s) => s.name,
    );
    assert.ok(!names.includes("files"));
    assert.ok(await waitFor(async () => !alive(pid), 10_000), "its process ended");
  });

  test("every server stops with Hearth", async () => {
    await call("everything", "echo", { message: "before shutdown" });
    const pid = t.server.context.mcp.pidOf("everything")!;
    assert.ok(alive(pid));
    await t.server.close();
    assert.ok(await waitFor(async () => !alive(pid), 10_000), "the stdio child ended with the server");
  });
});
