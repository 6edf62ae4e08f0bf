import { useEffect, useMemo, useState } from "react";
import { search as searchApi, type SearchHit, type Source } from "../api/history.js";
import { SearchController } from "./search-controller.js";

export interface SearchState {
  /** The query the hits answer. */
  query: string;
  hits: SearchHit[];
  pending: boolean;
  error: unknown;
}

/**
 * Search-as-you-type over all history, debounced, newest query wins. Replies' thoughts are searched
 * only with `withThoughts` (the API's `in=all`): by default a hit is something the model said.
 */
export function useSearch(
  source: Source | undefined,
  withThoughts = false,
): { state: SearchState; controller: SearchController<unknown> } {
  const [state, setState] = useState<SearchState>({ query: "", hits: [], pending: false, error: null });
  const controller = useMemo(
    () =>
      new SearchController({
        search: (q, signal) =>
          searchApi(q, { limit: 30, source, ...(withThoughts ? { in: "all" as const } : {}) }, { signal }),
        onResult: (q, page) => setState({ query: q, hits: page.hits, pending: false, error: null }),
        onError: (q, error) => setState({ query: q, hits: [], pending: false, error }),
        onPending: (pending) => setState((s) => ({ ...s, pending })),
      }),
    [source, withThoughts],
  );
  useEffect(() => () => controller.cancel(), [controller]);
  return { state, controller: controller as SearchController<unknown> };
}
