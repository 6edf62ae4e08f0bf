/**
 * Tells screens that data they show changed elsewhere in the app (a chat created in the chat view
 * must appear in the sidebar). Only a nudge to refetch from the server, never a data channel.
 */
import { useEffect, useRef } from "react";

export type AppEvent = "conversations" | "models" | "providers";

const target = new EventTarget();

export function emit(event: AppEvent): void {
  target.dispatchEvent(new Event(event));
}

export function useAppEvent(event: AppEvent, handler: () => void): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    const listener = () => ref.current();
    target.addEventListener(event, listener);
    return () => target.removeEventListener(event, listener);
  }, [event]);
}
