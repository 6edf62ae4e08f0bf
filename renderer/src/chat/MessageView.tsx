/**
 * One message: the user's as a bubble that can be edited and resent, a reply as Markdown with its
 * stats, copy and regenerate, and at a branch point the arrows to switch between versions. A
 * thinking model's thoughts sit above its answer in a "Thinking" block: open while it thinks,
 * collapsed once the answer starts and in history, saying how long it thought.
 */
import { useEffect, useRef, useState, type ReactNode } from "react";
import type { ThreadMessage } from "../api/history.js";
import { CopyButton } from "../app/CopyButton.js";
import { Icon } from "../app/Icon.js";
import { LazyMarkdown } from "./LazyMarkdown.js";

export interface ReplyStats {
  model: string | null;
  completionTokens: number | null;
  tokensPerSecond: number | null;
  ttftMs: number | null;
  finishReason: string | null;
}

export function formatStats(s: ReplyStats): string[] {
  const out: string[] = [];
  if (s.model) out.push(s.model);
  if (s.completionTokens !== null) out.push(`${s.completionTokens} tokens`);
  if (s.tokensPerSecond !== null && Number.isFinite(s.tokensPerSecond))
    out.push(`${s.tokensPerSecond.toFixed(1)} tok/s`);
  if (s.ttftMs !== null)
    out.push(`${s.ttftMs < 1000 ? `${Math.round(s.ttftMs)} ms` : `${(s.ttftMs / 1000).toFixed(2)} s`} to first token`);
  if (s.finishReason === "length") out.push("stopped at the token limit");
  return out;
}

/** "Thought for 3 s": how long a reply's thoughts took, whole seconds (under 1 s says so). */
export function thoughtFor(ms: number | null): string {
  if (ms === null) return "Thoughts";
  const seconds = ms / 1000;
  return `Thought for ${seconds < 1 ? "under 1" : Math.round(seconds)} s`;
}

/**
 * The thoughts above an answer. `live`: the model is thinking now, so the block is open and says
 * so; it closes by itself when that ends (the answer started) and the person can open it again.
 */
export function ThinkingBlock({ text, ms, live }: { text: string; ms: number | null; live: boolean }) {
  // The person's own open/close counts only while `live` stays what it was: the block closes in the
  // same render that shows the answer's first text, not one effect later.
  const [choice, setChoice] = useState<{ live: boolean; open: boolean } | null>(null);
  const open = choice !== null && choice.live === live ? choice.open : live;
  return (
    <details
      className="thinking"
      open={open}
      data-live={live || undefined}
      onToggle={(e) => {
        if (e.currentTarget.open !== open) setChoice({ live, open: e.currentTarget.open });
      }}
    >
      <summary aria-live={live ? "polite" : undefined}>{live ? "Thinking…" : thoughtFor(ms)}</summary>
      <div className="thinking-text">{text}</div>
    </details>
  );
}

function BranchSwitcher({
  message,
  onSwitch,
  disabled,
}: {
  message: ThreadMessage;
  onSwitch: (id: number) => void;
  disabled: boolean;
}) {
  const ids = message.siblingIds;
  if (ids.length < 2) return null;
  const i = ids.indexOf(message.id);
  const prev = ids[i - 1];
  const next = ids[i + 1];
  return (
    <div className="branch-switcher" role="group" aria-label="Versions">
      <button
        type="button"
        className="icon-button small"
        aria-label="Previous version"
        disabled={disabled || prev === undefined}
        onClick={() => prev !== undefined && onSwitch(prev)}
      >
        <Icon name="chevronLeft" />
      </button>
      <span className="branch-count" aria-live="polite">
        {i + 1} / {ids.length}
      </span>
      <button
        type="button"
        className="icon-button small"
        aria-label="Next version"
        disabled={disabled || next === undefined}
        onClick={() => next !== undefined && onSwitch(next)}
      >
        <Icon name="chevronRight" />
      </button>
    </div>
  );
}

interface MessageViewProps {
  message: ThreadMessage;
  busy: boolean;
  highlighted: boolean;
  onRegenerate?: () => void;
  onEdit?: (text: string) => void;
  onSwitch: (id: number) => void;
}

export function MessageView({ message, busy, highlighted, onRegenerate, onEdit, onSwitch }: MessageViewProps) {
  const [editing, setEditing] = useState(false);
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    if (highlighted) ref.current?.scrollIntoView({ block: "center" });
  }, [highlighted]);

  if (message.role === "user") {
    return (
      <article
        ref={ref}
        id={`msg-${message.id}`}
        className={highlighted ? "message user highlighted" : "message user"}
        aria-label="Your message"
        data-message-id={message.id}
      >
        {editing && onEdit ? (
          <EditBox
            initial={message.content}
            onCancel={() => setEditing(false)}
            onSave={(text) => {
              setEditing(false);
              onEdit(text);
            }}
          />
        ) : (
          <>
            <div className="bubble">{message.content}</div>
            <div className="message-actions">
              <BranchSwitcher message={message} onSwitch={onSwitch} disabled={busy} />
              <CopyButton text={message.content} label="Copy message" className="icon-button small" />
              {onEdit ? (
                <button
                  type="button"
                  className="icon-button small"
                  aria-label="Edit message"
                  title="Edit and resend"
                  disabled={busy}
                  onClick={() => setEditing(true)}
                >
                  <Icon name="edit" />
                </button>
              ) : null}
            </div>
          </>
        )}
      </article>
    );
  }

  if (message.role === "tool") return <ToolResultView message={message} highlighted={highlighted} />;
  if (message.role !== "assistant") return null;
  const stats = formatStats(message);
  return (
    <article
      ref={ref}
      id={`msg-${message.id}`}
      className={highlighted ? "message assistant highlighted" : "message assistant"}
      aria-label="Reply"
      data-message-id={message.id}
      data-status={message.status}
    >
      {message.reasoning ? <ThinkingBlock text={message.reasoning} ms={message.reasoningMs} live={false} /> : null}
      {message.content || (!message.reasoning && !message.toolCalls) ? <LazyMarkdown text={message.content} /> : null}
      {(message.toolCalls ?? []).map((call) => (
        <ToolCallView key={call.id} name={call.name} args={call.arguments} />
      ))}
      {message.status === "partial" ? <p className="message-note">Stopped before the end.</p> : null}
      {message.status === "error" ? (
        <p className="message-note error">This reply failed{message.error ? `: ${message.error}` : "."}</p>
      ) : null}
      <div className="message-actions">
        <BranchSwitcher message={message} onSwitch={onSwitch} disabled={busy} />
        <CopyButton text={message.content} label="Copy reply" className="icon-button small" />
        {onRegenerate ? (
          <button
            type="button"
            className="icon-button small"
            aria-label="Regenerate reply"
            title="Regenerate"
            disabled={busy}
            onClick={onRegenerate}
          >
            <Icon name="refresh" />
          </button>
        ) : null}
        {stats.length > 0 ? (
          <span className="stats" aria-label="Reply statistics">
            {stats.join(" · ")}
          </span>
        ) : null}
      </div>
    </article>
  );
}

function EditBox({
  initial,
  onSave,
  onCancel,
}: {
  initial: string;
  onSave: (text: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initial);
  return (
    <form
      className="edit-box"
      onSubmit={(e) => {
        e.preventDefault();
        if (text.trim()) onSave(text);
      }}
    >
      <textarea
        aria-label="Edit message"
        value={text}
        autoFocus
        rows={Math.min(10, Math.max(2, text.split("\n").length))}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            onCancel();
          }
          if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            if (text.trim()) onSave(text);
          }
        }}
      />
      <div className="edit-actions">
        <button type="button" className="button small" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button small primary" disabled={!text.trim()}>
          Save and send
        </button>
      </div>
    </form>
  );
}

/** The reply being generated: same look as a stored reply, plus a caret while it streams. */
export function StreamingReply({
  text,
  reasoning,
  reasoningMs,
  waiting,
  running,
  stats,
}: {
  text: string;
  /** The thoughts so far ("" for a model that does not think) and, once they ended, how long they took. */
  reasoning: string;
  reasoningMs: number | null;
  waiting: boolean;
  /** Still generating (not stopped or failed): thoughts without an answer yet are live. */
  running: boolean;
  stats: string[];
}) {
  return (
    <article
      className="message assistant streaming"
      aria-label="Reply"
      aria-busy={waiting || undefined}
      data-status="streaming"
    >
      {reasoning ? <ThinkingBlock text={reasoning} ms={reasoningMs} live={running && !text} /> : null}
      {reasoning && !text ? null : waiting && !text ? (
        <div className="typing" aria-label="Waiting for the first token">
          <span />
          <span />
          <span />
        </div>
      ) : (
        <LazyMarkdown text={text} />
      )}
      {stats.length > 0 ? (
        <div className="message-actions">
          <span className="stats">{stats.join(" · ")}</span>
        </div>
      ) : null}
    </article>
  );
}

/** A call the model made: the function and its arguments as it wrote them. */
export function ToolCallView({ name, args, children }: { name: string; args: string; children?: ReactNode }) {
  let shown = args;
  try {
    shown = JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    // Shown as written when it is not JSON.
  }
  return (
    <div className="tool-call" aria-label={`Tool call ${name}`}>
      <div className="tool-call-head">
        <Icon name="tool" /> Calls <code>{name}</code>
      </div>
      <pre className="tool-args">{shown}</pre>
      {children}
    </div>
  );
}

const OUTCOME_WORDS: Record<string, string> = {
  ok: "done",
  error: "failed",
  timeout: "timed out",
  crashed: "server stopped",
  stopped: "stopped",
  denied: "denied",
};
const APPROVAL_WORDS: Record<string, string> = {
  once: "allowed once",
  always: "allowed always",
  auto: "always allowed",
  denied: "denied",
  none: "",
};

/** A tool's result, collapsed: what ran, how it ended, who allowed it; the output on opening. */
function ToolResultView({ message, highlighted }: { message: ThreadMessage; highlighted: boolean }) {
  const run = message.toolRun;
  const what = run ? `${run.server}/${run.tool}` : "tool";
  const notes = run
    ? [OUTCOME_WORDS[run.outcome] ?? run.outcome, APPROVAL_WORDS[run.approval] ?? "", run.truncatedFrom ? "cut" : ""]
    : [];
  return (
    <article
      id={`msg-${message.id}`}
      className={highlighted ? "message tool highlighted" : "message tool"}
      aria-label="Tool result"
      data-message-id={message.id}
      data-outcome={run?.outcome}
    >
      <details className="tool-result">
        <summary>
          Result of <code>{what}</code>
          {notes.filter(Boolean).length > 0 ? ` · ${notes.filter(Boolean).join(" · ")}` : ""}
        </summary>
        <pre className="tool-output">{message.content}</pre>
      </details>
    </article>
  );
}
