/**
 * The left column: new chat, search-as-you-type over all history, the conversations (pinned
 * first, then by date, loaded as you scroll), filters by source, and the way to the other screens.
 */
import { forwardRef, useEffect, useImperativeHandle, useMemo, useRef, useState } from "react";
import type { Source } from "../api/history.js";
import { Icon } from "../app/Icon.js";
import { navigate, routeHref, type Route } from "../app/route.js";
import { keyLabel } from "../app/shortcuts.js";
import type { ThemeChoice } from "../app/theme.js";
import { ConversationList } from "./ConversationList.js";
import { SearchResults } from "./SearchResults.js";
import { useSearch } from "./useSearch.js";

export interface SidebarHandle {
  focusSearch(): void;
}

interface SidebarProps {
  route: Route;
  theme: ThemeChoice;
  onTheme: (t: ThemeChoice) => void;
  onHelp: () => void;
  onHide: () => void;
}

const FILTERS: { value: Source | undefined; label: string }[] = [
  { value: undefined, label: "All" },
  { value: "ui", label: "Chats" },
  { value: "api", label: "API" },
];

const NAV: { route: Route; label: string; icon: "cube" | "cloud" | "server" | "settings" }[] = [
  { route: { name: "models" }, label: "Models", icon: "cube" },
  { route: { name: "providers" }, label: "Providers", icon: "cloud" },
  { route: { name: "server" }, label: "Server", icon: "server" },
  { route: { name: "settings" }, label: "Settings", icon: "settings" },
];

const NEXT_THEME: Record<ThemeChoice, ThemeChoice> = { system: "light", light: "dark", dark: "system" };
const THEME_ICON = { system: "monitor", light: "sun", dark: "moon" } as const;

export const Sidebar = forwardRef<SidebarHandle, SidebarProps>(function Sidebar(
  { route, theme, onTheme, onHelp, onHide },
  ref,
) {
  const [source, setSource] = useState<Source | undefined>(undefined);
  const [query, setQuery] = useState("");
  const [withThoughts, setWithThoughts] = useState(false);
  const searchRef = useRef<HTMLInputElement>(null);
  const { state: searchState, controller: search } = useSearch(source, withThoughts);
  useImperativeHandle(ref, () => ({ focusSearch: () => searchRef.current?.select() }), []);
  const activeId = route.name === "chat" ? route.conversationId : null;
  const searching = query.trim() !== "";

  useEffect(() => {
    search.input(query);
    // Also re-runs the query when a filter changes: the controller is made per source and scope.
  }, [query, search]);

  const themeLabel = useMemo(() => `Theme: ${theme} (switch to ${NEXT_THEME[theme]})`, [theme]);

  return (
    <nav className="sidebar" aria-label="Conversations and screens">
      <div className="sidebar-top">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>Hearth</span>
          <button
            type="button"
            className="icon-button"
            aria-label="Hide sidebar"
            title={`Hide sidebar (${keyLabel("Mod+Shift+S")})`}
            onClick={onHide}
          >
            <Icon name="sidebar" />
          </button>
        </div>
        <a
          className="button new-chat"
          href={routeHref({ name: "chat", conversationId: null, messageId: null })}
          title={`New chat (${keyLabel("Mod+Shift+O")})`}
        >
          <Icon name="plus" />
          <span>New chat</span>
        </a>
        <div className="search-box">
          <Icon name="search" />
          <input
            ref={searchRef}
            type="search"
            placeholder="Search history"
            aria-label="Search history"
            aria-keyshortcuts={isMacLike() ? "Meta+K" : "Control+K"}
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") search.flush(query);
              if (e.key === "Escape" && query) {
                e.stopPropagation();
                setQuery("");
              }
            }}
          />
          <kbd className="search-kbd" aria-hidden="true">
            {keyLabel("Mod+K")}
          </kbd>
        </div>
        {searching ? (
          <label className="search-scope">
            <input type="checkbox" checked={withThoughts} onChange={(e) => setWithThoughts(e.target.checked)} />
            Search thoughts too
          </label>
        ) : null}
        <div className="segmented" role="radiogroup" aria-label="Show conversations from">
          {FILTERS.map((f) => (
            <button
              key={f.label}
              type="button"
              role="radio"
              aria-checked={source === f.value}
              className={source === f.value ? "active" : ""}
              onClick={() => setSource(f.value)}
            >
              {f.label}
            </button>
          ))}
        </div>
      </div>
      <div className="sidebar-scroll">
        {searching ? (
          <SearchResults
            state={searchState}
            query={query}
            onPick={(hit) => navigate({ name: "chat", conversationId: hit.conversationId, messageId: hit.messageId })}
          />
        ) : (
          <ConversationList source={source} activeId={activeId} />
        )}
      </div>
      <div className="sidebar-bottom">
        {NAV.map((n) => (
          <a
            key={n.label}
            href={routeHref(n.route)}
            className={route.name === n.route.name ? "nav-link active" : "nav-link"}
            aria-current={route.name === n.route.name ? "page" : undefined}
          >
            <Icon name={n.icon} />
            <span>{n.label}</span>
          </a>
        ))}
        <div className="sidebar-tools">
          <button
            type="button"
            className="icon-button"
            aria-label={themeLabel}
            title={themeLabel}
            onClick={() => onTheme(NEXT_THEME[theme])}
          >
            <Icon name={THEME_ICON[theme]} />
          </button>
          <button
            type="button"
            className="icon-button"
            aria-label="Keyboard shortcuts"
            title={`Keyboard shortcuts (${keyLabel("Mod+/")})`}
            onClick={onHelp}
          >
            <span aria-hidden="true" className="kbd-icon">
              ?
            </span>
          </button>
        </div>
      </div>
    </nav>
  );
});

function isMacLike(): boolean {
  return /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
}
