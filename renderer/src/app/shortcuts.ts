/**
 * Global keyboard shortcuts. Mod is Cmd on macOS and Ctrl elsewhere. Kept in one table so the
 * help dialog and the handler cannot disagree.
 */
import { useEffect, useRef } from "react";

export type ShortcutAction = "newChat" | "focusSearch" | "stop" | "toggleSidebar" | "help";

export interface Shortcut {
  action: ShortcutAction;
  /** Human-readable keys, e.g. "Mod+Shift+O". */
  keys: string;
  label: string;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { action: "newChat", keys: "Mod+Shift+O", label: "New chat" },
  { action: "focusSearch", keys: "Mod+K", label: "Search history" },
  { action: "stop", keys: "Escape", label: "Stop generating" },
  { action: "toggleSidebar", keys: "Mod+Shift+S", label: "Show or hide the sidebar" },
  { action: "help", keys: "Mod+/", label: "Keyboard shortcuts" },
];

export const isMac = (): boolean =>
  typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

export function keyLabel(keys: string): string {
  return keys.replace("Mod", isMac() ? "⌘" : "Ctrl");
}

/** Which action a key event means, if any. */
export function matchShortcut(
  e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "shiftKey" | "altKey">,
  mac = isMac(),
): ShortcutAction | null {
  const mod = mac ? e.metaKey : e.ctrlKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  for (const s of SHORTCUTS) {
    const parts = s.keys.split("+");
    const want = parts[parts.length - 1]!;
    const wantMod = parts.includes("Mod");
    const wantShift = parts.includes("Shift");
    if (wantMod !== mod || e.altKey) continue;
    if (
      want.length === 1
        ? key === want.toLowerCase() && wantShift === e.shiftKey
        : key === want && (!wantShift || e.shiftKey)
    )
      return s.action;
  }
  return null;
}

export function useShortcuts(handlers: Partial<Record<ShortcutAction, () => boolean | void>>): void {
  const ref = useRef(handlers);
  ref.current = handlers;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const action = matchShortcut(e);
      if (!action) return;
      const handler = ref.current[action];
      // A handler returns false when it did not use the key (Escape with nothing to stop).
      if (handler && handler() !== false) e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
