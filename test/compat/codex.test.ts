/**
 * Codex CLI, the real binary (`@openai/codex`, pinned in test/helpers/codex-cli.ts), against a real
 * Hearth as a custom model provider: `codex exec` with Codex's default configuration but for the
 * provider (its long instructions, all its tools, MCP-style namespaces, hosted `web_search`): a
 * first turn (`qwen3-answer`), and a tool turn (`qwen3-exec` calls `exec_command`, Codex runs the
 * command in a temp folder and sends its output back, the model answers). A pass-through proxy
 * between the two records what Codex sends. Skipped, saying why, where npm cannot install Codex
 * (offline, or a platform Codex publishes no binary for).
 *
 * Codex never reaches past 127.0.0.1 here: no OpenAI key; update checks, analytics, feedback,
 * apps and plugins off; and the run is killed (its whole process group) when it overstays or the
 * test ends. It passes in a network namespace with only a loopback (`unshare -rn`).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CODEX_VERSION, codexCli, type CodexCli } from "../helpers/codex-cli.js";
import { startCompatServer, type CompatServer } from "./harness.js";

const cli: CodexCli = await codexCli();
const skip = "skip" in cli ? `Codex CLI is not available: ${cli.skip}` : false;

/** A request as Hearth received it from Codex, and Hearth's answer (SSE text when streamed). */
interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  status: number;
  response: string;
}

/** A proxy on 127.0.0.1:0 that passes every request to `target` and keeps a copy of both sides. */
async function recordingProxy(target: string): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const to = new URL(target);
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const upstream = http.request(
        { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const out: Buffer[] = [];
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.on("data", (c: Buffer) => {
            out.push(c);
            res.write(c);
          });
          answer.on("end", () => {
            res.end();
            requests.push({
              method: req.method ?? "",
              url: req.url ?? "",
              headers: req.headers,
              body: body.length > 0 ? (JSON.parse(body.toString("utf8")) as Record<string, unknown>) : {},
              status: answer.statusCode ?? 0,
              response: Buffer.concat(out).toString("utf8"),
            });
          });
        },
      );
      upstream.on("error", (err) => res.destroy(err));
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** One line of `codex exec --json`. */
interface CodexEvent {
  type: string;
  item?: { type: string; text?: string; message?: string } & Record<string, unknown>;
  usage?: { input_tokens: number; cached_input_tokens: number; output_tokens: number };
}

interface CodexRun {
  code: number | null;
  events: CodexEvent[];
  stderr: string;
}

const running = new Set<ChildProcess>();

/** Kills `child` and whatever it started (it leads its own process group). */
function killGroup(child: ChildProcess): void {
  try {
    if (process.platform !== "win32" && child.pid) process.kill(-child.pid, "SIGKILL");
    else child.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * A Codex home whose config.toml makes Hearth at `baseUrl` the model provider (README's Codex
 * section, less `web_search = "disabled"`, so Codex sends its hosted search as by default) and
 * turns off what would reach for the network.
 */
function codexHome(dir: string, baseUrl: string, model: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "config.toml"),
    [
      `model = ${JSON.stringify(model)}`,
      `model_provider = "hearth"`,
      `check_for_update_on_startup = false`,
      ``,
      `[model_providers.hearth]`,
      `name = "Hearth"`,
      `base_url = ${JSON.stringify(`${baseUrl}/v1`)}`,
      `wire_api = "responses"`,
      `requires_openai_auth = false`,
      `env_key = "HEARTH_API_KEY"`,
      ``,
      `[analytics]`,
      `enabled = false`,
      ``,
      `[feedback]`,
      `enabled = false`,
      ``,
      // Otherwise Codex looks up chatgpt.com (apps) and api.github.com (plugins) in the background
      // (seen with strace); off, it reaches nothing but 127.0.0.1, and its request is the same.
      `[features]`,
      `apps = false`,
      `plugins = false`,
      `remote_plugin = false`,
      ``,
    ].join("\n"),
  );
}

/** `codex exec --json <prompt>` in `cwd`, killed after `timeoutMs`. */
async function codexExec(
  bin: string,
  opts: { home: string; cwd: string; apiKey: string; prompt: string; args?: string[]; timeoutMs?: number },
): Promise<CodexRun> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CODEX_HOME: opts.home,
    HOME: opts.home,
    USERPROFILE: opts.home,
    HEARTH_API_KEY: opts.apiKey,
  };
  for (const key of Object.keys(env)) if (key.startsWith("OPENAI_") || key.startsWith("CODEX_MANAGED")) delete env[key];
  const args = ["exec", "--json", "--strict-config", "--skip-git-repo-check", "--ephemeral", "--color", "never"];
  const child = spawn(bin, [...args, ...(opts.args ?? []), opts.prompt], {
    cwd: opts.cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: process.platform !== "win32",
  });
  running.add(child);
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const timer = setTimeout(() => killGroup(child), opts.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  running.delete(child);
  const events = out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as CodexEvent);
  return { code, events, stderr: err };
}

/** Whether Codex's own sandbox (bubblewrap on Linux) can run a command on this machine. */
async function sandboxWorks(bin: string, home: string, cwd: string): Promise<boolean> {
  const child = spawn(bin, ["sandbox", "--", "true"], {
    cwd,
    env: { ...process.env, CODEX_HOME: home, HOME: home },
    stdio: "ignore",
    detached: process.platform !== "win32",
  });
  running.add(child);
  const timer = setTimeout(() => killGroup(child), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  running.delete(child);
  return code === 0;
}

/** What the run says, for an assertion's message. */
const shown = (run: CodexRun) =>
  `exit ${run.code}\n${run.events.map((e) => JSON.stringify(e)).join("\n")}\n${run.stderr}`;

describe(`Codex CLI (${CODEX_VERSION}, wire_api "responses")`, { skip }, () => {
  let server: CompatServer | undefined;
  let proxy: Awaited<ReturnType<typeof recordingProxy>> | undefined;
  let temp: string | undefined;
  let firstTurn: CodexRun | undefined;
  let toolTurn: CodexRun | undefined;
  let toolWork = "";
  let sandboxed = false;
  const requestsFor = (model: string) => proxy!.requests.filter((r) => r.body.model === server!.env.models[model]);

  before(async () => {
    if ("skip" in cli) return;
    // Codex's default prompt is about 8,700 tokens (Qwen3's tokenizer): more than the 4k default.
    server = await startCompatServer(["qwen3-answer", "qwen3-exec"], { ctxSize: 16_384, parallel: 1 });
    proxy = await recordingProxy(server.env.url);
    temp = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-codex-"));
    const run = async (name: string, model: string, prompt: string, args: string[] = []) => {
      const home = path.join(temp!, name, "home");
      const work = path.join(temp!, name, "work");
      fs.mkdirSync(work, { recursive: true });
      codexHome(home, proxy!.url, server!.env.models[model]!);
      return { work, run: await codexExec(cli.bin, { home, cwd: work, apiKey: server!.env.apiKey, prompt, args }) };
    };
    firstTurn = (await run("answer", "qwen3-answer", "Say hi")).run;
    // The scripted command writes proof.txt in the run's own temp folder: in Codex's sandbox
    // (workspace-write) where the machine allows one, else with the sandbox off.
    const probe = path.join(temp, "probe");
    fs.mkdirSync(probe);
    sandboxed = await sandboxWorks(cli.bin, probe, probe);
    const mode = sandboxed ? ["--sandbox", "workspace-write"] : ["--dangerously-bypass-approvals-and-sandbox"];
    const tool = await run("tool", "qwen3-exec", "Write proof.txt", mode);
    toolTurn = tool.run;
    toolWork = tool.work;
  });
  after(async () => {
    for (const child of running) killGroup(child);
    await proxy?.close();
    await server?.close();
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
  });

  test("a first turn: the scripted model's answer is Codex's reply", () => {
    const run = firstTurn!;
    assert.equal(run.code, 0, shown(run));
    const messages = run.events.filter((e) => e.item?.type === "agent_message").map((e) => e.item!.text);
    assert.deepEqual(messages, ["Hello there!"], shown(run));
    const done = run.events.find((e) => e.type === "turn.completed");
    assert.ok(done?.usage && done.usage.input_tokens > 4096 && done.usage.output_tokens > 0, shown(run));
  });

  test("what Codex sends: one streamed, unstored Responses request with its prompt and tools", () => {
    const requests = requestsFor("qwen3-answer");
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.url} ${r.status}`),
      ["POST /v1/responses 200"],
      "Codex asks nothing else of the provider",
    );
    const [request] = requests as [Recorded];
    assert.equal(request.headers.authorization, `Bearer ${server!.env.apiKey}`, "env_key is sent as a Bearer token");
    const body = request.body;
    assert.deepEqual([body.stream, body.store, body.tool_choice], [true, false, "auto"]);
    assert.deepEqual(body.include, ["reasoning.encrypted_content"]);
    const input = body.input as { type: string; role: string; content: { text: string }[] }[];
    const developer = input.filter((i) => i.role === "developer").map((i) => i.content.map((c) => c.text).join(""));
    assert.ok(developer.join("").length > 10_000, "Codex's long base instructions come as developer messages");
    assert.equal(input.at(-1)?.content[0]?.text, "Say hi");
    const tools = body.tools as { type: string; name?: string; tools?: unknown[] }[];
    const kinds = new Set(tools.map((t) => t.type));
    assert.ok(
      tools.some((t) => t.type === "function" && t.name === "exec_command"),
      "its shell tool",
    );
    assert.ok(kinds.has("namespace") && kinds.has("web_search"), [...kinds].join(", "));
    // The hosted search is left out with a warning in the response, never a 400.
    assert.match(request.response, /"code":"tool_not_available"[^}]*"param":"tools\.\d+"/);
  });

  test("a tool turn: the model calls exec_command, Codex runs it and sends the output back", () => {
    const run = toolTurn!;
    assert.equal(run.code, 0, shown(run));
    const commands = run.events.filter((e) => e.type === "item.completed" && e.item?.type === "command_execution");
    assert.equal(commands.length, 1, shown(run));
    assert.match(String(commands[0]!.item!.command), /echo hearth > proof\.txt/);
    assert.equal(commands[0]!.item!.exit_code, 0, `${sandboxed ? "in" : "without"} Codex's sandbox: ${shown(run)}`);
    assert.equal(fs.readFileSync(path.join(toolWork, "proof.txt"), "utf8"), "hearth\n");
    const messages = run.events.filter((e) => e.item?.type === "agent_message").map((e) => e.item!.text);
    assert.deepEqual(messages, ["The command ran."], shown(run));
  });

  test("the tool turn on the wire: only the required parameter, the output sent back with its call_id", () => {
    const requests = requestsFor("qwen3-exec");
    assert.deepEqual(
      requests.map((r) => `${r.method} ${r.url} ${r.status}`),
      ["POST /v1/responses 200", "POST /v1/responses 200"],
    );
    // The first reply's call, from the SSE stream's output_item.done.
    const done = requests[0]!.response
      .split("\n")
      .filter((l) => l.startsWith("data: "))
      .map((l) => JSON.parse(l.slice(6)) as { type: string; item?: Record<string, unknown> })
      .filter((e) => e.type === "response.output_item.done")
      .map((e) => e.item!);
    const call = done.find((i) => i.type === "function_call");
    assert.ok(call, JSON.stringify(done));
    assert.equal(call.name, "exec_command");
    // exec_command has nine optional parameters (shell, login, sandbox_permissions...): a local
    // model writes only those the schema requires, as OpenAI's models leave the rest unset.
    assert.deepEqual(JSON.parse(String(call.arguments)), { cmd: "echo hearth > proof.txt" });
    const input = requests[1]!.body.input as { type: string; call_id?: string; name?: string; output?: unknown }[];
    const [sentCall, sentOutput] = input.slice(-2);
    assert.deepEqual(
      [sentCall?.type, sentCall?.name, sentCall?.call_id],
      ["function_call", "exec_command", call.call_id],
    );
    assert.deepEqual([sentOutput?.type, sentOutput?.call_id], ["function_call_output", call.call_id]);
    assert.match(String(sentOutput?.output), /exited with code 0/);
  });
});
