/**
 * Where the API key comes from: the desktop shell's per-launch token (`window.hearth.token`), or in
 * a plain browser the key a person typed after the server answered 401, kept in localStorage.
 */
import type { HearthBridge } from "../../../electron/preload-api.js";

const STORAGE_KEY = "hearth.apiKey";

export function bridge(): HearthBridge | undefined {
  return typeof window === "undefined" ? undefined : window.hearth;
}

export function currentToken(): string | null {
  const fromShell = bridge()?.token;
  if (fromShell) return fromShell;
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function saveApiKey(key: string | null): void {
  try {
    if (key) localStorage.setItem(STORAGE_KEY, key);
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled (private mode): the key then lasts until reload, which is still usable.
  }
  memoryKey = key;
}

let memoryKey: string | null = null;

/** The header value to send, or null when there is nothing to send. */
export function authorization(): string | null {
  const token = currentToken() ?? memoryKey;
  return token ? `Bearer ${token}` : null;
}

type Listener = () => void;
const listeners = new Set<Listener>();

/** Called whenever a request was refused with 401, so the app can ask for the key. */
export function onUnauthorized(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function reportUnauthorized(): void {
  for (const l of listeners) l();
}
