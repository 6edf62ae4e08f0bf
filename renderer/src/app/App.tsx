/**
 * The app shell: sidebar (conversations and search) beside the current screen, the API key prompt
 * when the server asks for one, global shortcuts, and the keyboard shortcut help.
 */
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from "react";
import { onUnauthorized } from "../api/auth.js";
import { ChatView } from "../chat/ChatView.js";
import { Sidebar, type SidebarHandle } from "../history/Sidebar.js";
import { ApiKeyPrompt } from "./ApiKeyPrompt.js";
import { navigate, useRoute } from "./route.js";
import { ShortcutsDialog } from "./ShortcutsDialog.js";
import { Toaster } from "./toast.js";
import { useShortcuts } from "./shortcuts.js";
import { useTheme } from "./theme.js";

const ModelsView = lazy(() => import("../models/ModelsView.js"));
const ProvidersView = lazy(() => import("../providers/ProvidersView.js"));
const ServerView = lazy(() => import("../server/ServerView.js"));
const SettingsView = lazy(() => import("../settings/SettingsView.js"));

export function App() {
  const route = useRoute();
  const [theme, setTheme] = useTheme();
  const [needsKey, setNeedsKey] = useState(false);
  const [generation, setGeneration] = useState(0);
  const [sidebarOpen, setSidebarOpen] = useState(true);
  const [helpOpen, setHelpOpen] = useState(false);
  const sidebar = useRef<SidebarHandle>(null);
  const stopRef = useRef<(() => boolean) | null>(null);

  useEffect(() => onUnauthorized(() => setNeedsKey(true)), []);

  useShortcuts({
    newChat: () => navigate({ name: "chat", conversationId: null, messageId: null }),
    focusSearch: () => {
      setSidebarOpen(true);
      requestAnimationFrame(() => sidebar.current?.focusSearch());
    },
    stop: () => stopRef.current?.() ?? false,
    toggleSidebar: () => setSidebarOpen((o) => !o),
    help: () => setHelpOpen((o) => !o),
  });

  const registerStop = useCallback((stop: (() => boolean) | null) => {
    stopRef.current = stop;
  }, []);

  return (
    <div className={sidebarOpen ? "app" : "app sidebar-hidden"} key={generation}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      {sidebarOpen ? (
        <Sidebar
          ref={sidebar}
          route={route}
          theme={theme}
          onTheme={setTheme}
          onHelp={() => setHelpOpen(true)}
          onHide={() => setSidebarOpen(false)}
        />
      ) : null}
      <main id="main" className="main" tabIndex={-1}>
        {!sidebarOpen ? (
          <button
            type="button"
            className="icon-button sidebar-show"
            aria-label="Show sidebar"
            title="Show sidebar"
            onClick={() => setSidebarOpen(true)}
          >
            <SidebarIcon />
          </button>
        ) : null}
        <Suspense fallback={<div className="screen-loading" aria-busy="true" />}>
          {route.name === "chat" ? (
            <ChatView
              conversationId={route.conversationId}
              focusMessageId={route.messageId}
              registerStop={registerStop}
            />
          ) : null}
          {route.name === "models" ? <ModelsView /> : null}
          {route.name === "providers" ? <ProvidersView /> : null}
          {route.name === "server" ? <ServerView /> : null}
          {route.name === "settings" ? <SettingsView theme={theme} onTheme={setTheme} /> : null}
        </Suspense>
      </main>
      {needsKey ? (
        <ApiKeyPrompt
          onSaved={() => {
            setNeedsKey(false);
            setGeneration((g) => g + 1);
          }}
        />
      ) : null}
      {helpOpen ? <ShortcutsDialog onClose={() => setHelpOpen(false)} /> : null}
      <Toaster />
    </div>
  );
}

function SidebarIcon() {
  return (
    <svg
      width="16"
      height="16"
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth={1.8}
      aria-hidden="true"
    >
      <path d="M4 4h16v16H4zM9 4v16" />
    </svg>
  );
}
