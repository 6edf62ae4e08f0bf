/**
 * Real MCP servers from npm for the MCP host tests (devDependencies): the reference "everything"
 * server over stdio or Streamable HTTP, and the filesystem server over stdio, run with this Node.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { closedPort } from "./remote.js";

const modules = path.resolve(import.meta.dirname, "..", "..", "node_modules", "@modelcontextprotocol");
const EVERYTHING = path.join(modules, "server-everything", "dist", "index.js");
const FILESYSTEM = path.join(modules, "server-filesystem", "dist", "index.js");

/** An `mcpServers` entry that starts the everything server over stdio. */
export function everythingStdio(env: Record<string, string> = {}): {
  command: string;
  args: string[];
  env: Record<string, string>;
} {
  return { command: process.execPath, args: [EVERYTHING, "stdio"], env };
}

/** An `mcpServers` entry for the filesystem server, allowed to read and write `dir` only. */
export function filesystemStdio(dir: string): { command: string; args: string[] } {
  return { command: process.execPath, args: [FILESYSTEM, dir] };
}

/** The everything server over Streamable HTTP on a free loopback port; its endpoint is `<url>`. */
export async function everythingHttp(): Promise<{ url: string; close(): Promise<void> }> {
  const port = await closedPort();
  const child = spawn(process.execPath, [EVERYTHING, "streamableHttp"], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the everything server did not start: ${stderr}`)), 30_000);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (stderr.includes("listening on port")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the everything server exited (${code}): ${stderr}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}
