/**
 * `hearth mcp`: the history MCP server on stdin/stdout, for an agent that starts it as a child
 * process (`claude mcp add hearth -- hearth mcp`). It opens `history.sqlite` read-only, beside the
 * app or `hearth serve` if they run (WAL: it sees each committed write), and never writes it.
 * Nothing but MCP messages may reach stdout; anything else goes to stderr.
 */
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { openHistoryReader, type HistoryReader } from "../history/index.js";
import { createHistoryMcpServer } from "./tools.js";

export interface StdioOptions {
  /** The history database (`<data-dir>/history.sqlite`). */
  file: string;
  version: string;
}

/**
 * Serves until stdin ends or `stop()` is called. The database opens at the first tool call, and
 * again at the next one if it could not (no history yet, or one an older Hearth must upgrade first):
 * the tool call says why, and the agent need not restart the server once Hearth created it.
 */
export async function serveHistoryOverStdio(options: StdioOptions): Promise<{ closed: Promise<void>; stop(): void }> {
  let reader: (HistoryReader & { close(): void }) | null = null;
  const server = createHistoryMcpServer({
    version: options.version,
    history: () => (reader ??= openHistoryReader(options.file)),
  });
  const transport = new StdioServerTransport();
  let done!: () => void;
  const closed = new Promise<void>((resolve) => (done = resolve));
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    reader?.close();
    reader = null;
    void server.close().finally(done);
  };
  transport.onclose = stop;
  process.stdin.once("end", stop);
  await server.connect(transport);
  return { closed, stop };
}
