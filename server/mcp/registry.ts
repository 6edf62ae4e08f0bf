/**
 * The MCP servers Hearth uses as a host, and their connections. Servers come from two places:
 * - `<data-dir>/mcp.json`, the user's own file in the `{"mcpServers": {...}}` shape (read again
 *   whenever it changed; Hearth never writes it; its `env` and `headers` stay in it);
 * - servers added through /api/mcp/servers (Settings): kept in `<data-dir>/mcp-servers.json`
 *   (mode 0600, no secrets) with their `env` and `headers` values in the SecretStore, write-only
 *   like providers' keys.
 * A server is started on demand (the first listing of its tools or the first call), with the
 * official SDK's client; a stdio child gets only the SDK's small default environment (PATH, HOME...)
 * plus its own `env`, never Hearth's. Its state and last error are kept for the API; a server that
 * dies is marked `error` and started again on the next use. `close()` stops them all (shutdown).
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { z } from "zod";
import { HearthError, NotFoundError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SecretStore } from "../secrets/secret-store.js";
import {
  McpFileSchema,
  McpServerEntrySchema,
  McpServerNameSchema,
  type McpServerCreate,
  type McpServerEntry,
  type McpServerUpdate,
  type McpServerView,
  type McpToolView,
} from "../wire/mcp.js";
import { runTool, type ToolRunResult } from "./runner.js";

export interface McpRegistryOptions {
  dataDir: string;
  secrets: SecretStore;
  logger: Pick<Logger, "info" | "warn">;
  /** How Hearth introduces itself to servers. */
  clientInfo: { name: string; version: string };
  /** Seconds to wait for a server to start and list its tools. Defaults to 30. */
  startTimeoutSeconds?: number;
}

/** The secret keys of a server added through the API. */
const mcpSecretKeys = (name: string) => ({ env: `mcp:${name}:env`, headers: `mcp:${name}:headers` }) as const;

const SettingsFileSchema = z.object({
  version: z.literal(1),
  servers: z.array(z.object({ name: McpServerNameSchema, entry: McpServerEntrySchema })),
});

/** The characters of a function name a model may be given (OpenAI: `^[a-zA-Z0-9_-]{1,64}$`). */
export function functionNameOf(server: string, tool: string): string {
  return `${server}__${tool.replace(/[^A-Za-z0-9_-]/gu, "_")}`.slice(0, 64);
}

/** The most of a server's stderr kept to explain why it failed. */
const STDERR_KEEP = 2000;

/**
 * The largest message a stdio server may send. The SDK's default (10 MB) closed the server on a
 * 6.4 MB file read (sent twice: as text and as structured content); a result is cut to
 * `toolResultLimit` after it arrived, so this only bounds memory.
 */
const STDIO_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

interface Connection {
  client: Client;
  transport: Transport;
  tools: McpToolView[];
}

interface Server {
  name: string;
  source: "file" | "settings";
  /** The entry as configured, with its secrets (from the file, or the secret store). */
  entry: McpServerEntry;
  state: "stopped" | "starting" | "running" | "error";
  error: string | null;
  connection: Connection | null;
  starting: Promise<Connection> | null;
  stderr: string;
  /** The last transport error, which explains a call that ends as `crashed`. */
  transportError: string | null;
}

const isStdio = (e: McpServerEntry): e is Extract<McpServerEntry, { command: string }> => "command" in e;

export class McpRegistry {
  private readonly servers = new Map<string, Server>();
  private fileStamp = "";
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: McpRegistryOptions) {}

  /** The user's own file (`<data-dir>/mcp.json`). */
  get file(): string {
    return path.join(this.options.dataDir, "mcp.json");
  }

  private get settingsFile(): string {
    return path.join(this.options.dataDir, "mcp-servers.json");
  }

  /** Reads both sources; a damaged file is logged and its servers left out, never fatal. */
  async load(): Promise<void> {
    await this.locked(async () => {
      await this.readSettingsFile();
      await this.readUserFile();
    });
  }

  /** Every server, after reading mcp.json again if it changed. */
  async list(): Promise<McpServerView[]> {
    await this.locked(() => this.readUserFile());
    return [...this.servers.values()].sort((a, b) => a.name.localeCompare(b.name)).map((s) => this.view(s));
  }

  async get(name: string): Promise<McpServerView> {
    await this.locked(() => this.readUserFile());
    return this.view(this.require(name));
  }

  /** Starts `name` when it is not running and answers its tools. Rejects with why it could not start. */
  async tools(name: string): Promise<McpToolView[]> {
    await this.locked(() => this.readUserFile());
    return (await this.connect(this.require(name))).tools;
  }

  /** Calls `tool` of server `name` with the runner's bounds; never rejects (a server that cannot start is an `error` result). */
  async call(
    name: string,
    tool: string,
    args: Record<string, unknown>,
    options: { signal: AbortSignal; timeoutMs: number; maxChars: number },
  ): Promise<ToolRunResult> {
    const started = performance.now();
    let connection: Connection;
    try {
      await this.locked(() => this.readUserFile());
      connection = await this.connect(this.require(name));
    } catch (err) {
      return {
        outcome: "error",
        text: `The tool's server '${name}' could not be started: ${(err as Error).message}`,
        truncatedFrom: null,
        durationMs: Math.round(performance.now() - started),
      };
    }
    const server = this.servers.get(name);
    if (server) server.transportError = null;
    const result = await runTool(connection.client, tool, args, options);
    if (result.outcome === "crashed" && server?.transportError)
      return { ...result, text: `${result.text} (${server.transportError})` };
    return result;
  }

  async add(input: McpServerCreate): Promise<McpServerView> {
    return this.locked(async () => {
      await this.readUserFile();
      if (this.servers.has(input.name))
        throw new HearthError(409, "invalid_request_error", `An MCP server named '${input.name}' already exists.`, {
          param: "name",
          code: "mcp_server_exists",
        });
      const entry = entryOf(input);
      await this.writeSecrets(input.name, entry);
      const server = this.newServer(input.name, "settings", entry);
      this.servers.set(input.name, server);
      try {
        await this.saveSettingsFile();
      } catch (err) {
        this.servers.delete(input.name);
        await this.deleteSecrets(input.name);
        throw err;
      }
      this.options.logger.info({ mcpServer: input.name }, "MCP server added");
      return this.view(server);
    });
  }

  async update(name: string, patch: McpServerUpdate): Promise<McpServerView> {
    return this.locked(async () => {
      const server = this.requireEditable(name);
      const old = server.entry;
      const next: Record<string, unknown> = { ...old };
      for (const [k, v] of Object.entries(patch)) {
        if (v === undefined) continue;
        if (v === null) delete next[k];
        else next[k] = v;
      }
      if (patch.env === null) next.env = {};
      if (patch.headers === null) next.headers = {};
      if (isStdio(old) && patch.url !== undefined)
        throw new HearthError(
          400,
          "invalid_request_error",
          "A stdio server has no 'url'; remove it and add a new one.",
          {
            param: "url",
          },
        );
      if (!isStdio(old) && (patch.command !== undefined || patch.args !== undefined || patch.env !== undefined))
        throw new HearthError(400, "invalid_request_error", "An HTTP server has no 'command', 'args' or 'env'.", {
          param: "command",
        });
      // Headers are secrets of the origin they were given for: a new origin starts without them.
      if (!isStdio(old) && patch.url !== undefined && new URL(patch.url).origin !== new URL(old.url).origin)
        next.headers = patch.headers ?? {};
      const entry = McpServerEntrySchema.parse(next);
      await this.writeSecrets(name, entry);
      server.entry = entry;
      await this.saveSettingsFile();
      await this.stop(server, null);
      this.options.logger.info({ mcpServer: name, fields: Object.keys(patch) }, "MCP server changed");
      return this.view(server);
    });
  }

  async remove(name: string): Promise<void> {
    await this.locked(async () => {
      const server = this.requireEditable(name);
      this.servers.delete(name);
      await this.saveSettingsFile();
      await this.deleteSecrets(name);
      await this.stop(server, null);
      this.options.logger.info({ mcpServer: name }, "MCP server removed");
    });
  }

  /** Stops `name` (it starts again on its next use); for Settings' restart and for tests. */
  async restart(name: string): Promise<McpServerView> {
    const server = this.require(name);
    await this.stop(server, null);
    await this.connect(server).catch(() => undefined);
    return this.view(server);
  }

  /** The process id of a running stdio server (tests kill it to play a crash). */
  pidOf(name: string): number | null {
    const transport = this.servers.get(name)?.connection?.transport;
    return transport instanceof StdioClientTransport ? transport.pid : null;
  }

  /** Stops every server; no server starts afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    await Promise.allSettled([...this.servers.values()].map((s) => this.stop(s, null)));
  }

  // ---- connections ----

  private connect(server: Server): Promise<Connection> {
    if (server.connection) return Promise.resolve(server.connection);
    if (server.starting) return server.starting;
    if (this.closed) return Promise.reject(new Error("Hearth is shutting down."));
    if (server.entry.disabled) return Promise.reject(new Error(`The MCP server '${server.name}' is disabled.`));
    server.state = "starting";
    server.error = null;
    server.stderr = "";
    const starting = this.open(server).then(
      (connection) => {
        server.starting = null;
        if (this.closed) {
          void connection.client.close();
          throw new Error("Hearth is shutting down.");
        }
        server.connection = connection;
        server.state = "running";
        return connection;
      },
      (err: unknown) => {
        server.starting = null;
        server.state = "error";
        const stderr = server.stderr.trim();
        server.error = `${(err as Error).message}${stderr ? ` (stderr: ${stderr.slice(-500)})` : ""}`;
        this.options.logger.warn({ mcpServer: server.name, error: server.error }, "MCP server did not start");
        throw new Error(server.error);
      },
    );
    server.starting = starting;
    return starting;
  }

  private async open(server: Server): Promise<Connection> {
    const entry = server.entry;
    const transport: Transport = isStdio(entry)
      ? new StdioClientTransport({
          command: entry.command,
          args: entry.args,
          env: entry.env,
          ...(entry.cwd ? { cwd: entry.cwd } : {}),
          stderr: "pipe",
          maxBufferSize: STDIO_MAX_MESSAGE_BYTES,
        })
      : new StreamableHTTPClientTransport(new URL(entry.url), {
          requestInit: { headers: entry.headers, redirect: "error" },
        });
    if (transport instanceof StdioClientTransport) {
      transport.stderr?.on("data", (chunk: Buffer) => {
        server.stderr = (server.stderr + chunk.toString("utf8")).slice(-STDERR_KEEP);
      });
    }
    const client = new Client(this.options.clientInfo, { capabilities: {} });
    // Transport errors (a message past the bound, a broken pipe) explain a close that follows.
    client.onerror = (err) => {
      server.transportError = err.message;
    };
    const timeout = (this.options.startTimeoutSeconds ?? 30) * 1000;
    try {
      await client.connect(transport, { timeout });
      const tools: McpToolView[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
        for (const t of page.tools) {
          tools.push({
            name: t.name,
            functionName: functionNameOf(server.name, t.name),
            title: t.title ?? t.annotations?.title ?? null,
            description: t.description ?? null,
            inputSchema: t.inputSchema as Record<string, unknown>,
            annotations: (t.annotations as Record<string, unknown> | undefined) ?? null,
          });
        }
        cursor = page.nextCursor;
      } while (cursor && tools.length < 1000);
      // Once running: a server that goes away is marked, and started again on its next use.
      client.onclose = () => {
        if (server.connection?.client !== client) return;
        server.connection = null;
        server.state = "error";
        const stderr = server.stderr.trim();
        const why = server.transportError ?? (stderr ? `stderr: ${stderr.slice(-500)}` : null);
        server.error = `The server stopped${why ? ` (${why})` : ""}.`;
        this.options.logger.warn({ mcpServer: server.name }, "MCP server stopped");
      };
      return { client, transport, tools };
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
  }

  /** Closes the connection (a stdio child is ended by the SDK: stdin closed, then SIGTERM, then SIGKILL). */
  private async stop(server: Server, error: string | null): Promise<void> {
    const starting = server.starting;
    if (starting) await starting.catch(() => undefined);
    const connection = server.connection;
    server.connection = null;
    server.state = error ? "error" : "stopped";
    server.error = error;
    if (connection) await connection.client.close().catch(() => undefined);
  }

  // ---- configuration ----

  private newServer(name: string, source: Server["source"], entry: McpServerEntry): Server {
    return {
      name,
      source,
      entry,
      state: "stopped",
      error: null,
      connection: null,
      starting: null,
      stderr: "",
      transportError: null,
    };
  }

  private require(name: string): Server {
    const server = this.servers.get(name);
    if (!server) throw new NotFoundError(`No MCP server named '${name}'.`, { code: "mcp_server_not_found" });
    return server;
  }

  private requireEditable(name: string): Server {
    const server = this.require(name);
    if (server.source === "file")
      throw new HearthError(
        409,
        "invalid_request_error",
        `The MCP server '${name}' comes from ${this.file}; change it in that file.`,
        { code: "mcp_server_in_file" },
      );
    return server;
  }

  /** Reads mcp.json when it changed since the last read; servers whose entry changed are stopped. */
  private async readUserFile(): Promise<void> {
    let text: string | null = null;
    let stamp = "absent";
    try {
      const stat = await fs.stat(this.file);
      stamp = `${stat.mtimeMs}:${stat.size}`;
      if (stamp !== this.fileStamp) text = await fs.readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (stamp === this.fileStamp) return;
    this.fileStamp = stamp;
    let entries: Record<string, McpServerEntry> = {};
    if (text !== null) {
      const parsed = (() => {
        try {
          return McpFileSchema.safeParse(JSON.parse(text));
        } catch (err) {
          return { success: false as const, error: err as Error };
        }
      })();
      if (parsed.success) entries = parsed.data.mcpServers;
      else
        this.options.logger.warn(
          { file: this.file, error: parsed.error.message.slice(0, 500) },
          "mcp.json is not valid; its servers are not used until it is fixed",
        );
    }
    for (const server of [...this.servers.values()]) {
      if (server.source !== "file") continue;
      const entry = entries[server.name];
      if (!entry || JSON.stringify(entry) !== JSON.stringify(server.entry)) {
        this.servers.delete(server.name);
        await this.stop(server, null);
      }
    }
    for (const [name, entry] of Object.entries(entries)) {
      const existing = this.servers.get(name);
      if (existing?.source === "settings") {
        this.options.logger.warn(
          { mcpServer: name },
          "mcp.json names a server that Settings added too; Settings' is used",
        );
        continue;
      }
      if (!existing) this.servers.set(name, this.newServer(name, "file", entry));
    }
  }

  private async readSettingsFile(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.settingsFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const parsed = (() => {
      try {
        return SettingsFileSchema.safeParse(JSON.parse(text));
      } catch {
        return null;
      }
    })();
    if (!parsed?.success) {
      const aside = `${this.settingsFile}.invalid-${Date.now()}`;
      await fs.rename(this.settingsFile, aside);
      this.options.logger.warn({ file: aside }, "mcp-servers.json is damaged; it was set aside");
      return;
    }
    for (const { name, entry } of parsed.data.servers) {
      this.servers.set(name, this.newServer(name, "settings", await this.readSecrets(name, entry)));
    }
  }

  private async saveSettingsFile(): Promise<void> {
    const servers = [...this.servers.values()]
      .filter((s) => s.source === "settings")
      .map((s) => ({
        name: s.name,
        entry: isStdio(s.entry) ? { ...s.entry, env: {} } : { ...s.entry, headers: {} },
      }));
    await fs.mkdir(this.options.dataDir, { recursive: true });
    const tmp = `${this.settingsFile}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    try {
      await fs.writeFile(tmp, `${JSON.stringify({ version: 1, servers }, null, 2)}\n`, { mode: 0o600, flag: "wx" });
      await fs.rename(tmp, this.settingsFile);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  private async readSecrets(name: string, entry: McpServerEntry): Promise<McpServerEntry> {
    const keys = mcpSecretKeys(name);
    const read = async (key: string) => {
      const text = await this.options.secrets.get(key);
      return text ? z.record(z.string(), z.string()).parse(JSON.parse(text)) : {};
    };
    try {
      return isStdio(entry) ? { ...entry, env: await read(keys.env) } : { ...entry, headers: await read(keys.headers) };
    } catch (err) {
      this.options.logger.warn(
        { mcpServer: name },
        `could not read the MCP server's secrets: ${(err as Error).message}`,
      );
      return entry;
    }
  }

  private async writeSecrets(name: string, entry: McpServerEntry): Promise<void> {
    const keys = mcpSecretKeys(name);
    const values = isStdio(entry) ? entry.env : entry.headers;
    const key = isStdio(entry) ? keys.env : keys.headers;
    const other = isStdio(entry) ? keys.headers : keys.env;
    if (Object.keys(values).length > 0) await this.options.secrets.set(key, JSON.stringify(values));
    else await this.options.secrets.delete(key);
    await this.options.secrets.delete(other);
  }

  private async deleteSecrets(name: string): Promise<void> {
    const keys = mcpSecretKeys(name);
    await this.options.secrets.delete(keys.env);
    await this.options.secrets.delete(keys.headers);
  }

  private view(s: Server): McpServerView {
    const e = s.entry;
    return {
      name: s.name,
      source: s.source,
      transport: isStdio(e) ? "stdio" : "http",
      command: isStdio(e) ? e.command : null,
      args: isStdio(e) ? e.args : [],
      cwd: isStdio(e) ? (e.cwd ?? null) : null,
      url: isStdio(e) ? null : e.url,
      env: isStdio(e) ? Object.keys(e.env) : [],
      headers: isStdio(e) ? [] : Object.keys(e.headers),
      disabled: e.disabled === true,
      state: e.disabled ? "disabled" : s.state,
      error: s.error,
      tools: s.connection?.tools ?? [],
    };
  }

  private locked<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

/** The stored entry of a server added through the API. */
function entryOf(input: McpServerCreate): McpServerEntry {
  return McpServerEntrySchema.parse(
    input.command !== undefined
      ? {
          command: input.command,
          args: input.args ?? [],
          env: input.env ?? {},
          ...(input.cwd ? { cwd: input.cwd } : {}),
          ...(input.disabled ? { disabled: true } : {}),
        }
      : { url: input.url, headers: input.headers ?? {}, ...(input.disabled ? { disabled: true } : {}) },
  );
}
