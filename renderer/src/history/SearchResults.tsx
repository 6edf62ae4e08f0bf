import type { SearchHit } from "../api/history.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { relativeTime } from "./dates.js";
import { Snippet } from "./snippet.js";
import type { SearchState } from "./useSearch.js";

export function SearchResults({
  state,
  query,
  onPick,
}: {
  state: SearchState;
  query: string;
  onPick: (hit: SearchHit) => void;
}) {
  const stale = state.query !== query;
  return (
    <section
      aria-label="Search results"
      aria-busy={state.pending}
      className={stale ? "search-results stale" : "search-results"}
    >
      {state.error ? <ErrorNote error={state.error} compact /> : null}
      {!state.pending && !stale && !state.error && state.hits.length === 0 ? (
        <p className="empty-note">No messages match “{query.trim()}”.</p>
      ) : null}
      <ul className="hit-list">
        {state.hits.map((hit) => (
          <li key={`${hit.conversationId}:${hit.messageId ?? "title"}`}>
            <button type="button" className="hit" onClick={() => onPick(hit)}>
              <span className="hit-title">
                <Snippet text={hit.kind === "title" ? hit.snippet : hit.conversationTitle || "Untitled chat"} />
              </span>
              {hit.kind === "message" ? (
                <span className="hit-snippet">
                  <span className="hit-role">
                    {hit.field === "reasoning"
                      ? "Thinking"
                      : hit.role === "user"
                        ? "You"
                        : hit.role === "assistant"
                          ? "Reply"
                          : hit.role}
                    :{" "}
                  </span>
                  <Snippet text={hit.snippet} />
                </span>
              ) : null}
              <span className="hit-time">{relativeTime(hit.createdAt)}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
