/**
 * Conversations, pinned first then grouped by date, with rename (inline), pin and an undoable
 * delete. More are fetched when the end of the list scrolls into view.
 */
import { useEffect, useRef, useState } from "react";
import { conversations as api, type Conversation, type Source } from "../api/history.js";
import { ApiError } from "../api/errors.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { emit } from "../app/events.js";
import { Icon } from "../app/Icon.js";
import { navigate, routeHref } from "../app/route.js";
import { showToast } from "../app/toast.js";
import { dateGroup, type DateGroup } from "./dates.js";
import { useConversations } from "./useConversations.js";

export function conversationTitle(c: Pick<Conversation, "title">): string {
  return c.title.trim() || "New chat";
}

export function ConversationList({ source, activeId }: { source: Source | undefined; activeId: string | null }) {
  const list = useConversations(source);
  const sentinel = useRef<HTMLDivElement>(null);
  const { loadMore, hasMore } = list;

  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasMore) return;
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && loadMore(), {
      rootMargin: "200px",
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [loadMore, hasMore]);

  if (list.error instanceof ApiError && list.error.status === 404 && list.items.length === 0) {
    return <p className="empty-note">This server keeps no history. Chats still work; they are not saved.</p>;
  }

  const groups = new Map<string, Conversation[]>();
  for (const c of list.items) {
    const key: "Pinned" | DateGroup = c.pinned ? "Pinned" : dateGroup(c.updatedAt);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }

  const remove = (c: Conversation) => {
    list.hide(c.id, true);
    if (activeId === c.id) navigate({ name: "chat", conversationId: null, messageId: null });
    showToast({
      message: `Deleted “${conversationTitle(c)}”`,
      action: { label: "Undo", run: () => list.hide(c.id, false) },
      onExpire: () => {
        api.remove(c.id, { keepalive: true }).then(
          () => emit("conversations"),
          () => {
            list.hide(c.id, false);
            showToast({ message: `Could not delete “${conversationTitle(c)}”.` });
          },
        );
      },
    });
  };

  return (
    <div className="conversation-list">
      {list.error ? <ErrorNote error={list.error} onRetry={list.reload} compact /> : null}
      {!list.loading && !list.error && list.items.length === 0 ? (
        <p className="empty-note">No conversations yet.</p>
      ) : null}
      {[...groups.entries()].map(([group, items]) => (
        <section key={group} aria-label={group}>
          <h3 className="group-title">{group}</h3>
          <ul>
            {items.map((c) => (
              <ConversationItem
                key={c.id}
                conversation={c}
                active={c.id === activeId}
                onPatch={(p) => list.patch(c.id, p)}
                onDelete={() => remove(c)}
              />
            ))}
          </ul>
        </section>
      ))}
      <div ref={sentinel} className="list-sentinel" aria-hidden="true" />
      {list.loading && list.items.length > 0 ? <p className="empty-note">Loading…</p> : null}
    </div>
  );
}

function ConversationItem({
  conversation: c,
  active,
  onPatch,
  onDelete,
}: {
  conversation: Conversation;
  active: boolean;
  onPatch: (p: Partial<Conversation>) => void;
  onDelete: () => void;
}) {
  const [renaming, setRenaming] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);
  const title = conversationTitle(c);

  useEffect(() => {
    if (!menuOpen) return;
    const close = (e: MouseEvent) => !menuRef.current?.contains(e.target as Node) && setMenuOpen(false);
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [menuOpen]);

  const save = async (next: string) => {
    setRenaming(false);
    const trimmed = next.trim();
    if (!trimmed || trimmed === c.title) return;
    onPatch({ title: trimmed });
    try {
      await api.update(c.id, { title: trimmed });
      emit("conversations");
    } catch {
      onPatch({ title: c.title });
      showToast({ message: "Could not rename the conversation." });
    }
  };

  const togglePin = async () => {
    setMenuOpen(false);
    try {
      await api.update(c.id, { pinned: !c.pinned });
      emit("conversations");
    } catch {
      showToast({ message: "Could not change the pin." });
    }
  };

  if (renaming) {
    return (
      <li className="conversation-item renaming">
        <input
          aria-label="Conversation title"
          defaultValue={c.title || ""}
          autoFocus
          onFocus={(e) => e.target.select()}
          onBlur={(e) => void save(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") void save(e.currentTarget.value);
            if (e.key === "Escape") {
              e.stopPropagation();
              setRenaming(false);
            }
          }}
        />
      </li>
    );
  }

  return (
    <li className={active ? "conversation-item active" : "conversation-item"}>
      <a
        href={routeHref({ name: "chat", conversationId: c.id, messageId: null })}
        aria-current={active ? "page" : undefined}
        title={title}
        onDoubleClick={() => setRenaming(true)}
      >
        {c.pinned ? <Icon name="pin" className="pin-mark" /> : null}
        <span className="conversation-title">{title}</span>
        {c.source === "api" ? <span className="badge">API</span> : null}
      </a>
      <div className="item-menu" ref={menuRef}>
        <button
          type="button"
          className="icon-button small"
          aria-label={`Actions for ${title}`}
          aria-haspopup="menu"
          aria-expanded={menuOpen}
          onClick={() => setMenuOpen((o) => !o)}
        >
          <Icon name="more" />
        </button>
        {menuOpen ? (
          <div className="menu" role="menu" onKeyDown={(e) => e.key === "Escape" && setMenuOpen(false)}>
            <button
              type="button"
              role="menuitem"
              autoFocus
              onClick={() => {
                setMenuOpen(false);
                setRenaming(true);
              }}
            >
              <Icon name="edit" /> Rename
            </button>
            <button type="button" role="menuitem" onClick={() => void togglePin()}>
              <Icon name="pin" /> {c.pinned ? "Unpin" : "Pin"}
            </button>
            <button
              type="button"
              role="menuitem"
              className="danger"
              onClick={() => {
                setMenuOpen(false);
                onDelete();
              }}
            >
              <Icon name="trash" /> Delete
            </button>
          </div>
        ) : null}
      </div>
    </li>
  );
}
