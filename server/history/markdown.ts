/** Markdown export: the shown branch of a conversation, for people to read (JSON is the format to import). */
import { MAX_TIME, type ConversationDetail } from "./types.js";

const ROLE_HEADINGS = { system: "System", user: "User", assistant: "Assistant", tool: "Tool" } as const;

/** A time a Date cannot hold (stored before imports checked times) is shown as its number, not thrown on. */
const iso = (ms: number) =>
  Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME ? new Date(ms).toISOString() : `${ms} (not a valid time)`;

/** Quotes every line, so content that itself contains Markdown headings cannot break the structure. */
function blockquote(text: string): string {
  return text
    .split("\n")
    .map((line) => (line.length > 0 ? `> ${line}` : ">"))
    .join("\n");
}

export function exportMarkdown(c: ConversationDetail): string {
  const lines: string[] = [`# ${c.title.trim() || "Untitled conversation"}`, ""];
  lines.push(`- Id: ${c.id}`, `- Source: ${c.source}`);
  if (c.model) lines.push(`- Model: ${c.model}${c.provider ? ` (${c.provider})` : ""}`);
  lines.push(`- Created: ${iso(c.createdAt)}`, `- Updated: ${iso(c.updatedAt)}`);
  if (c.pinned) lines.push("- Pinned: yes");
  if (Object.keys(c.params).length > 0) lines.push(`- Parameters: \`${JSON.stringify(c.params)}\``);
  const branched = c.messages.filter((m) => m.siblingIds.length > 1).length;
  if (branched > 0) lines.push(`- Branches: ${branched} branch point(s); only the shown branch is exported here`);
  if (c.systemPrompt) lines.push("", "## System prompt", "", blockquote(c.systemPrompt));
  for (const m of c.messages) {
    const run = m.toolRun
      ? `${m.toolRun.server}/${m.toolRun.tool}: ${m.toolRun.outcome}, approval ${m.toolRun.approval}`
      : null;
    const notes = [m.role === "assistant" ? m.model : null, run, m.status !== "complete" ? m.status : null].filter(
      Boolean,
    );
    lines.push("", `## ${ROLE_HEADINGS[m.role]}${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`, "");
    lines.push(`*${iso(m.createdAt)}*`, "");
    if (m.reasoning) lines.push("*Thinking:*", "", blockquote(m.reasoning), "", "*Answer:*", "");
    if (m.content) lines.push(blockquote(m.content));
    for (const call of m.toolCalls ?? [])
      lines.push("", `Tool call \`${call.name}\` (${call.id}):`, "", "```json", call.arguments, "```");
    if (m.error) lines.push("", `Error: ${m.error}`);
  }
  return `${lines.join("\n")}\n`;
}
