/**
 * Short notices at the bottom of the window ("Conversation deleted · Undo"). Announced to screen
 * readers through a polite live region.
 */
import { useEffect, useState } from "react";

export interface Toast {
  id: number;
  message: string;
  action?: { label: string; run: () => void };
  /** Called when the toast goes away without its action being used. */
  onExpire?: () => void;
  /** Defaults to 5000 ms. */
  durationMs?: number;
}

type Listener = (toasts: Toast[]) => void;
let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<Listener>();
const publish = () => listeners.forEach((l) => l(toasts));

export function showToast(t: Omit<Toast, "id">): number {
  const toast = { ...t, id: nextId++ };
  toasts = [...toasts, toast];
  publish();
  return toast.id;
}

export function dismissToast(id: number, expired: boolean): void {
  const t = toasts.find((x) => x.id === id);
  if (!t) return;
  toasts = toasts.filter((x) => x.id !== id);
  publish();
  if (expired) t.onExpire?.();
}

/** Runs pending expiries now (the page is going away): an undoable delete must still happen. */
export function flushToasts(): void {
  for (const t of [...toasts]) dismissToast(t.id, true);
}

function ToastItem({ toast }: { toast: Toast }) {
  useEffect(() => {
    const timer = setTimeout(() => dismissToast(toast.id, true), toast.durationMs ?? 5000);
    return () => clearTimeout(timer);
  }, [toast]);
  return (
    <div className="toast">
      <span>{toast.message}</span>
      {toast.action ? (
        <button
          type="button"
          className="button small"
          onClick={() => {
            dismissToast(toast.id, false);
            toast.action?.run();
          }}
        >
          {toast.action.label}
        </button>
      ) : null}
      <button
        type="button"
        className="icon-button small"
        aria-label="Dismiss"
        onClick={() => dismissToast(toast.id, true)}
      >
        ×
      </button>
    </div>
  );
}

export function Toaster() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => {
    listeners.add(setList);
    const onHide = () => flushToasts();
    window.addEventListener("pagehide", onHide);
    return () => {
      listeners.delete(setList);
      window.removeEventListener("pagehide", onHide);
    };
  }, []);
  return (
    <div className="toaster" role="status" aria-live="polite">
      {list.map((t) => (
        <ToastItem key={t.id} toast={t} />
      ))}
    </div>
  );
}
