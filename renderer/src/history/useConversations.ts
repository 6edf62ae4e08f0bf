/**
 * The sidebar's conversation list: pages fetched on demand (infinite scroll), refetched from the
 * first page when something changed, with deletions that can be undone for a few seconds.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { useAppEvent } from "../app/events.js";
import { conversations, type Conversation, type Source } from "../api/history.js";

const PAGE = 40;

export interface ConversationsState {
  items: Conversation[];
  loading: boolean;
  error: unknown;
  hasMore: boolean;
  loadMore: () => void;
  reload: () => void;
  /** Removes an item from view at once (before the server call), e.g. for undoable deletes. */
  hide: (id: string, hidden: boolean) => void;
  patch: (id: string, patch: Partial<Conversation>) => void;
}

export function useConversations(source: Source | undefined): ConversationsState {
  const [items, setItems] = useState<Conversation[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const generation = useRef(0);
  const loadingRef = useRef(false);

  const fetchPage = useCallback(
    async (from: string | null, replace: boolean) => {
      const gen = generation.current;
      loadingRef.current = true;
      setLoading(true);
      try {
        // A reload refetches as many items as are shown, so scrolled-in pages do not vanish.
        const page = await conversations.list({ source, limit: PAGE, cursor: from ?? undefined });
        if (gen !== generation.current) return;
        setItems((prev) => {
          if (replace) return page.items;
          const seen = new Set(prev.map((c) => c.id));
          return [...prev, ...page.items.filter((c) => !seen.has(c.id))];
        });
        setCursor(page.nextCursor);
        setHasMore(page.nextCursor !== null);
        setError(null);
      } catch (err) {
        if (gen === generation.current) setError(err);
      } finally {
        if (gen === generation.current) {
          loadingRef.current = false;
          setLoading(false);
        }
      }
    },
    [source],
  );

  const reload = useCallback(() => {
    generation.current++;
    void fetchPage(null, true);
  }, [fetchPage]);

  useEffect(() => {
    reload();
  }, [reload]);

  useAppEvent("conversations", reload);

  const loadMore = useCallback(() => {
    if (loadingRef.current || !cursor) return;
    void fetchPage(cursor, false);
  }, [cursor, fetchPage]);

  const hide = useCallback((id: string, h: boolean) => {
    setHidden((prev) => {
      const next = new Set(prev);
      if (h) next.add(id);
      else next.delete(id);
      return next;
    });
  }, []);

  const patch = useCallback((id: string, p: Partial<Conversation>) => {
    setItems((prev) => prev.map((c) => (c.id === id ? { ...c, ...p } : c)));
  }, []);

  return { items: items.filter((c) => !hidden.has(c.id)), loading, error, hasMore, loadMore, reload, hide, patch };
}
