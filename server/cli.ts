#!/usr/bin/env node
/**
 * `hearth serve`: the headless server. Prints exactly one line on stdout, with the base URL,
 * once it is ready to serve inference; logs go to stderr as JSON lines.
 * `hearth mcp`: the chat history as an MCP server on stdin/stdout (server/history-mcp/).
 * `hearth keys`: create, list and revoke named API keys (server/access/keys-cli.ts).
 * Each command loads only its own modules: an MCP client waits for `hearth mcp` to start, and
 * the whole server (the engine's bindings among it) is not needed for that.
 */
import path from "node:path";
import type { HearthServer } from "./app.js";
import { ConfigError, helpText, loadConfig, loadMcpConfig, mcpHelpText, scrubSecretEnv } from "./config.js";
import { VERSION } from "./version.js";

/** `hearth keys` loads only the key file's code. */
const keysCli = () => import("./access/keys-cli.js");

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (
    command === undefined ||
    command === "--help" ||
    command === "-h" ||
    command === "help" ||
    rest.includes("--help") ||
    rest.includes("-h")
  ) {
    const help = command === "mcp" ? mcpHelpText() : command === "keys" ? (await keysCli()).keysHelpText() : helpText();
    process.stdout.write(`${help}\n`);
    return command === undefined ? 1 : 0;
  }
  if (command === "mcp") return mcp(rest);
  if (command === "keys")
    return (await keysCli()).runKeysCommand(
      rest,
      (line) => process.stdout.write(`${line}\n`),
      (line) => process.stderr.write(`${line}\n`),
    );
  if (command !== "serve") {
    process.stderr.write(`Unknown command '${command}'.\n\n${helpText()}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig({ argv: rest });
    scrubSecretEnv();
    if (rest.some((a) => a === "--api-key" || a.startsWith("--api-key=")))
      process.stderr.write(
        "Warning: --api-key shows in the process list to every user of this machine. " +
          "Use HEARTH_API_KEY or --api-key-file <file> instead.\n",
      );
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const { createServer } = await import("./app.js");
  let server: HearthServer;
  try {
    server = createServer(config);
  } catch (err) {
    // e.g. a history database from a newer Hearth: the message says what to do.
    process.stderr.write(`Hearth could not start: ${(err as Error).message}\n`);
    return 1;
  }
  let stopping: Promise<void> | null = null;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`Received ${signal} again; exiting now.\n`);
      process.exit(130);
    }
    server.context.logger.info({ signal }, "shutting down");
    stopping = server.close().then(
      () => process.exit(0),
      (err) => {
        server.context.logger.error({ err }, "error while shutting down");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // Windows has no usable SIGTERM: a supervising parent (the Electron shell) asks by message,
  // over a Node IPC channel or an Electron utilityProcess parent port.
  const onMessage = (data: unknown) => {
    if (typeof data === "object" && data !== null && (data as { type?: unknown }).type === "hearth:shutdown")
      stop("shutdown message");
  };
  process.on("message", onMessage);
  (
    process as unknown as { parentPort?: { on(e: "message", f: (ev: { data: unknown }) => void): void } }
  ).parentPort?.on("message", (ev) => onMessage(ev.data));
  try {
    const url = await server.start();
    const ollama = server.ollamaUrl ? `; Ollama API: ${server.ollamaUrl}` : "";
    process.stdout.write(`Hearth is ready at ${url} (OpenAI API: ${url}/v1${ollama})\n`);
  } catch (err) {
    process.stderr.write(`Hearth could not start: ${(err as Error).message}\n`);
    await server.close().catch(() => undefined);
    return 1;
  }
  return -1;
}

/** `hearth mcp`: serves until the client closes stdin, or SIGINT/SIGTERM. */
async function mcp(argv: string[]): Promise<number> {
  let dataDir: string;
  try {
    ({ dataDir } = loadMcpConfig({ argv }));
    scrubSecretEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const { HISTORY_FILE } = await import("./history/index.js");
  const { serveHistoryOverStdio } = await import("./history-mcp/stdio.js");
  const session = await serveHistoryOverStdio({ file: path.join(dataDir, HISTORY_FILE), version: VERSION });
  process.on("SIGINT", session.stop);
  process.on("SIGTERM", session.stop);
  await session.closed;
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
