/**
 * The Markdown renderer (and highlight.js) is the largest part of the bundle; it loads after the
 * shell, and until it arrives text shows as plain pre-wrapped text, so nothing waits on it.
 */
import { lazy, Suspense } from "react";

const Markdown = lazy(() => import("./Markdown.js"));

export function LazyMarkdown({ text }: { text: string }) {
  return (
    <Suspense fallback={<div className="markdown plain">{text}</div>}>
      <Markdown text={text} />
    </Suspense>
  );
}

/** Starts fetching the renderer early (idle time after start-up). */
export function preloadMarkdown(): void {
  void import("./Markdown.js");
}
