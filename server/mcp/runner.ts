/**
 * One MCP tool call with bounds: a timeout (the server's answer, or none, after `timeoutMs`), a
 * caller's signal (Stop), and a bound on the result's size. Whatever happens (the tool reports an
 * error, the server dies mid-call, the timeout passes, the user stops) the caller gets a
 * `ToolRunResult`, never a rejection, so a chat never hangs on a tool and the model can be told.
 * Used by the app's chats (chat/tool-loop.ts) and meant for the Responses API's `mcp` tools.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { ToolRun } from "../history/types.js";

/**
 * How a call ended (history/types.ts `TOOL_OUTCOMES`, kept with the tool message): `ok`; `error`
 * (the tool said so, or the server refused the call); `timeout`; `crashed` (the server went away
 * mid-call); `stopped` (the user pressed Stop); `denied` (the user refused it; never run).
 */
export type ToolOutcome = ToolRun["outcome"];

export interface ToolRunResult {
  outcome: ToolOutcome;
  /** What the model is shown: the tool's output as text, or what went wrong. */
  text: string;
  /** The untruncated text's length in characters when `text` was cut to the bound, else null. */
  truncatedFrom: number | null;
  durationMs: number;
}

export interface RunToolOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Most characters of `text`; past it the text is cut and a note says so. */
  maxChars: number;
}

/** One content block of a tool result as text (images and audio by size only: the model gets text). */
function blockText(block: Record<string, unknown>): string {
  switch (block.type) {
    case "text":
      return typeof block.text === "string" ? block.text : "";
    case "image":
    case "audio": {
      const size = typeof block.data === "string" ? Math.floor((block.data.length * 3) / 4) : 0;
      return `[${block.type} ${String(block.mimeType ?? "")}, ${size} bytes, not shown]`;
    }
    case "resource": {
      const r = (block.resource ?? {}) as Record<string, unknown>;
      return typeof r.text === "string" ? r.text : `[resource ${String(r.uri ?? "")}, not shown]`;
    }
    case "resource_link":
      return `[resource link ${String(block.uri ?? "")}${block.name ? ` (${String(block.name)})` : ""}]`;
    default:
      return `[${String(block.type)} content, not shown]`;
  }
}

/** A tool result (`CallToolResult`) as one text: its blocks, else its structured content as JSON. */
export function resultText(result: { content?: unknown; structuredContent?: unknown; toolResult?: unknown }): string {
  const blocks = Array.isArray(result.content) ? (result.content as Record<string, unknown>[]) : [];
  if (blocks.length > 0) return blocks.map(blockText).join("\n");
  if (result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  if (result.toolResult !== undefined) return JSON.stringify(result.toolResult);
  return "";
}

/** `text` cut to `maxChars` (never inside a surrogate pair) with a note, and its length when it was cut. */
export function bound(text: string, maxChars: number): { text: string; truncatedFrom: number | null } {
  if (text.length <= maxChars) return { text, truncatedFrom: null };
  let end = maxChars;
  if (end > 0 && /[\uD800-\uDBFF]/u.test(text[end - 1]!)) end--;
  return {
    text: `${text.slice(0, end)}\n\n[Hearth cut this tool result at ${end.toLocaleString("en")} of its ${text.length.toLocaleString("en")} characters.]`,
    truncatedFrom: text.length,
  };
}

/** Calls `tool` on `client`; never rejects (see the module comment). `onCrash` learns the server went away. */
export async function runTool(
  client: Client,
  tool: string,
  args: Record<string, unknown>,
  options: RunToolOptions,
): Promise<ToolRunResult> {
  const started = performance.now();
  const done = (outcome: ToolOutcome, text: string): ToolRunResult => ({
    outcome,
    ...bound(text, options.maxChars),
    durationMs: Math.round(performance.now() - started),
  });
  if (options.signal.aborted) return done("stopped", "The call was stopped before it ran.");
  // The SDK's own timeout, and ours beside it: a transport that neither answers nor closes must not hold the chat.
  const timeout = AbortSignal.timeout(options.timeoutMs + 1000);
  const signal = AbortSignal.any([options.signal, timeout]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const result = await Promise.race([
      client.callTool({ name: tool, arguments: args }, undefined, { signal, timeout: options.timeoutMs }),
      aborted,
    ]);
    const text = resultText(result);
    return done(result.isError === true ? "error" : "ok", text);
  } catch (err) {
    if (options.signal.aborted) return done("stopped", "The user stopped the call before it finished.");
    const seconds = Math.round(options.timeoutMs / 100) / 10;
    if (timeout.aborted || (err instanceof McpError && err.code === ErrorCode.RequestTimeout))
      return done("timeout", `The tool did not answer within ${seconds} s; the call was cancelled.`);
    if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed)
      return done("crashed", "The tool's server stopped during the call; the call has no result.");
    const message = err instanceof Error ? err.message : String(err);
    return done("error", `The call failed: ${message}`);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}
