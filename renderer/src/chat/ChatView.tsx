/**
 * The chat screen: header (title, model, settings), the shown branch of the conversation, the
 * reply streaming in, and the composer. Opening it from a search hit scrolls to that message.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { conversations, type GenerationParams, type ThreadMessage } from "../api/history.js";
import { models as modelLibrary, type LibraryModelView } from "../api/models.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { emit } from "../app/events.js";
import { Icon } from "../app/Icon.js";
import { navigate, routeHref } from "../app/route.js";
import { conversationTitle } from "../history/ConversationList.js";
import { Composer, type ComposerHandle } from "./Composer.js";
import { preloadMarkdown } from "./LazyMarkdown.js";
import { formatStats, MessageView, StreamingReply, ToolCallView } from "./MessageView.js";
import { ModelPicker, thinksOf, useModels } from "./ModelPicker.js";
import { SettingsPanel } from "./SettingsPanel.js";
import { ToolsMenu } from "./ToolsMenu.js";
import { useChat, type ChatSettings } from "./useChat.js";

const LAST_MODEL = "hearth.lastModel";

/**
 * Whether `model` thinks before it answers (thinksOf), from /api/models. Asked when the model
 * changes and after each turn (the turn may have loaded it); what a loaded model says is kept for
 * when it is unloaded again.
 */
function useThinks(model: string, turnRunning: boolean): boolean {
  const [learned, setLearned] = useState<Record<string, boolean>>({});
  const [views, setViews] = useState<Record<string, Pick<LibraryModelView, "loaded" | "facts"> | undefined>>({});
  useEffect(() => {
    if (!model || turnRunning) return;
    const controller = new AbortController();
    modelLibrary.list({ signal: controller.signal }).then(
      (list) => {
        const view = list.models.find((m) => m.id === model);
        setViews((v) => ({ ...v, [model]: view }));
        const loaded = view?.loaded;
        if (loaded) setLearned((k) => (k[model] === loaded.thinks ? k : { ...k, [model]: loaded.thinks }));
      },
      () => undefined,
    );
    return () => controller.abort();
  }, [model, turnRunning]);
  return thinksOf(views[model], learned[model]);
}

function lastModel(): string {
  try {
    return localStorage.getItem(LAST_MODEL) ?? "";
  } catch {
    return "";
  }
}

interface ChatViewProps {
  conversationId: string | null;
  focusMessageId: number | null;
  registerStop: (stop: (() => boolean) | null) => void;
}

export function ChatView({ conversationId, focusMessageId, registerStop }: ChatViewProps) {
  const onCreated = useCallback(
    (id: string) => navigate({ name: "chat", conversationId: id, messageId: null }, { replace: true }),
    [],
  );
  const chat = useChat(conversationId, focusMessageId, onCreated);
  const models = useModels();
  const modelList = useMemo(() => models.data?.data ?? [], [models.data]);
  const [settings, setSettings] = useState<ChatSettings>({
    model: lastModel(),
    systemPrompt: "",
    params: {},
    tools: [],
  });
  const [panelOpen, setPanelOpen] = useState(false);
  const [highlight, setHighlight] = useState<number | null>(focusMessageId);
  const composer = useRef<ComposerHandle>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);
  const saveTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const pendingSave = useRef<(() => Promise<void>) | null>(null);
  const { detail, pending } = chat;
  const thinks = useThinks(settings.model, pending !== null);

  useEffect(() => {
    const idle = window.requestIdleCallback ?? ((cb: () => void) => setTimeout(cb, 200));
    idle(() => preloadMarkdown());
  }, []);

  useEffect(() => {
    registerStop(chat.stop);
    return () => registerStop(null);
  }, [chat.stop, registerStop]);

  // A loaded conversation brings its own settings; a new chat starts from the last model used.
  const loadedId = detail?.id ?? null;
  useEffect(() => {
    if (!detail) {
      if (!conversationId) setSettings({ model: lastModel(), systemPrompt: "", params: {}, tools: [] });
      return;
    }
    setSettings((s) => ({
      model: detail.model ?? s.model,
      systemPrompt: detail.systemPrompt ?? "",
      params: detail.params ?? {},
      tools: detail.tools ?? [],
    }));
    // Only when another conversation is shown, not on every refetch of this one.
  }, [loadedId, conversationId]);

  // Pick a model when none is chosen or the chosen one disappeared.
  useEffect(() => {
    if (modelList.length === 0) return;
    if (!settings.model || (!detail && !modelList.some((m) => m.id === settings.model))) {
      const preferred = modelList.find((m) => m.owned_by === "local") ?? modelList[0]!;
      setSettings((s) => ({ ...s, model: preferred.id }));
    }
  }, [modelList, settings.model, detail]);

  useEffect(() => {
    setHighlight(focusMessageId);
    if (focusMessageId === null) return;
    const t = setTimeout(() => setHighlight(null), 4000);
    return () => clearTimeout(t);
  }, [focusMessageId, conversationId]);

  useEffect(() => {
    if (!focusMessageId) composer.current?.focus();
  }, [conversationId, focusMessageId]);

  // Follow the reply while it streams, unless the person scrolled up to read.
  useEffect(() => {
    const el = scroller.current;
    if (el && stickToBottom.current && highlight === null) el.scrollTop = el.scrollHeight;
  }, [pending?.reply.content, pending?.reply.reasoning, detail?.messages.length, highlight]);

  const changeSettings = (next: Partial<ChatSettings>) => {
    const merged = { ...settings, ...next };
    setSettings(merged);
    if (next.model) {
      try {
        localStorage.setItem(LAST_MODEL, next.model);
      } catch {
        // Only a convenience.
      }
    }
    if (!detail || detail.id.startsWith("local-")) return;
    if (saveTimer.current) clearTimeout(saveTimer.current);
    const id = detail.id;
    const save = () => {
      saveTimer.current = null;
      pendingSave.current = null;
      return conversations
        .update(id, {
          model: merged.model || null,
          systemPrompt: merged.systemPrompt || null,
          params: merged.params,
          tools: merged.tools,
        })
        .then(
          () => undefined,
          () => undefined,
        );
    };
    pendingSave.current = save;
    saveTimer.current = setTimeout(() => void save(), 400);
  };

  /** Saves settings changed in the last moments before a turn uses them (the system prompt lives on the conversation). */
  const flushSettings = async () => {
    const save = pendingSave.current;
    if (!save) return;
    if (saveTimer.current) clearTimeout(saveTimer.current);
    await save();
  };

  const messages: ThreadMessage[] = detail?.messages ?? [];
  const shown = pending ? messages.slice(0, pending.keep) : messages;
  const lastAssistant = [...shown].reverse().find((m) => m.role === "assistant");
  const noModels = models.data !== undefined && modelList.length === 0;
  const busy = chat.busy;
  // Page-only chats (no history on the server) regenerate just their last reply.
  const isLocal = detail?.id.startsWith("local-") ?? false;
  const title = detail ? conversationTitle(detail) : "New chat";

  return (
    <div className={panelOpen ? "chat with-panel" : "chat"}>
      <div className="chat-column">
        <header className="chat-header">
          <TitleEditor
            key={detail?.id ?? "new"}
            title={title}
            editable={!!detail && !detail.id.startsWith("local-")}
            onRename={async (t) => {
              if (!detail) return;
              await conversations.update(detail.id, { title: t });
              chat.reload();
              emit("conversations");
            }}
          />
          <div className="chat-header-tools">
            {!isLocal ? <ToolsMenu value={settings.tools} onChange={(tools) => changeSettings({ tools })} /> : null}
            <ModelPicker value={settings.model} models={modelList} onChange={(model) => changeSettings({ model })} />
            <button
              type="button"
              className={panelOpen ? "icon-button active" : "icon-button"}
              aria-label="Chat settings"
              aria-expanded={panelOpen}
              title="System prompt and parameters"
              onClick={() => setPanelOpen((o) => !o)}
            >
              <Icon name="sliders" />
            </button>
          </div>
        </header>
        <div
          className="messages"
          ref={scroller}
          onScroll={(e) => {
            const el = e.currentTarget;
            stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
          }}
          aria-live="off"
        >
          <div className="messages-inner">
            {chat.loadError ? <ErrorNote error={chat.loadError} onRetry={chat.reload} /> : null}
            {!detail && !conversationId && !pending ? <Welcome noModels={noModels} /> : null}
            {shown.map((m) => (
              <MessageView
                key={m.id}
                message={m}
                busy={busy}
                highlighted={highlight === m.id}
                onSwitch={(id) => void chat.switchBranch(id)}
                onEdit={(text) => void flushSettings().then(() => chat.edit(m, text, settings))}
                onRegenerate={
                  !isLocal || m === lastAssistant
                    ? () => void flushSettings().then(() => chat.regenerate(m, settings))
                    : undefined
                }
              />
            ))}
            {pending ? (
              <>
                {pending.userText !== null ? (
                  <article className="message user" aria-label="Your message">
                    <div className="bubble">{pending.userText}</div>
                  </article>
                ) : null}
                <StreamingReply
                  text={pending.reply.content}
                  reasoning={pending.reply.reasoning}
                  reasoningMs={pending.reply.reasoningMs}
                  waiting={pending.status === "waiting"}
                  running={pending.status === "waiting" || pending.status === "streaming"}
                  stats={formatStats({
                    ...pending.reply,
                    completionTokens: pending.reply.completionTokens ?? (pending.reply.deltas || null),
                  })}
                />
                {chat.toolCalls.map((call) => (
                  <ToolCallView key={call.callId} name={call.functionName} args={call.arguments}>
                    {call.state === "pending" ? (
                      <div className="tool-approval" role="group" aria-label={`Allow ${call.functionName}?`}>
                        <button
                          type="button"
                          className="button small primary"
                          onClick={() => void chat.decide(call, "once")}
                        >
                          Allow once
                        </button>
                        <button type="button" className="button small" onClick={() => void chat.decide(call, "always")}>
                          Always for this tool
                        </button>
                        <button type="button" className="button small" onClick={() => void chat.decide(call, "deny")}>
                          Deny
                        </button>
                      </div>
                    ) : (
                      <p className="muted">{call.state === "running" ? "Running…" : "…"}</p>
                    )}
                  </ToolCallView>
                ))}
              </>
            ) : null}
          </div>
        </div>
        <div className="composer-area">
          {chat.turnError ? (
            <div className="turn-error">
              <ErrorNote error={chat.turnError} compact />
              <button
                type="button"
                className="icon-button small"
                aria-label="Dismiss error"
                onClick={chat.clearTurnError}
              >
                <Icon name="x" />
              </button>
            </div>
          ) : null}
          <Composer
            ref={composer}
            busy={busy}
            disabled={noModels}
            disabledReason="Add a model on the Models page to start chatting"
            onSend={(text) => {
              stickToBottom.current = true;
              setHighlight(null);
              void flushSettings().then(() => chat.send(text, settings));
            }}
            onStop={() => chat.stop()}
          />
          <p className="composer-hint">
            Models can make mistakes. Replies are generated on{" "}
            {settings.model.includes("/") ? "a remote provider" : "this computer"}.
          </p>
        </div>
      </div>
      {panelOpen ? (
        <SettingsPanel
          key={detail?.id ?? "new"}
          systemPrompt={settings.systemPrompt}
          params={settings.params as GenerationParams}
          thinks={thinks}
          onChange={(next) => changeSettings(next)}
          onClose={() => setPanelOpen(false)}
        />
      ) : null}
    </div>
  );
}

function Welcome({ noModels }: { noModels: boolean }) {
  return (
    <div className="welcome">
      <span className="brand-mark large" aria-hidden="true" />
      <h1>What can I help with?</h1>
      {noModels ? (
        <div className="welcome-card">
          <p>There is no model yet. Download a recommended one to start chatting; it runs entirely on this computer.</p>
          <a className="button primary" href={routeHref({ name: "models" })}>
            <Icon name="download" /> Get a model
          </a>
        </div>
      ) : (
        <p className="muted">Everything stays on this computer. Press Enter to send, Shift+Enter for a new line.</p>
      )}
    </div>
  );
}

function TitleEditor({
  title,
  editable,
  onRename,
}: {
  title: string;
  editable: boolean;
  onRename: (t: string) => Promise<void>;
}) {
  const [editing, setEditing] = useState(false);
  if (!editing) {
    return (
      <h1 className="chat-title">
        {editable ? (
          <button
            type="button"
            className="title-button"
            title="Rename"
            aria-label={`Rename conversation: ${title}`}
            onClick={() => setEditing(true)}
          >
            {title}
          </button>
        ) : (
          title
        )}
      </h1>
    );
  }
  const save = (value: string) => {
    setEditing(false);
    if (value.trim() && value.trim() !== title) void onRename(value.trim());
  };
  return (
    <input
      className="chat-title-input"
      aria-label="Conversation title"
      defaultValue={title}
      autoFocus
      onFocus={(e) => e.target.select()}
      onBlur={(e) => save(e.target.value)}
      onKeyDown={(e) => {
        if (e.key === "Enter") save(e.currentTarget.value);
        if (e.key === "Escape") {
          e.stopPropagation();
          setEditing(false);
        }
      }}
    />
  );
}
