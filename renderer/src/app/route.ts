/**
 * Routes live in the URL hash (`#/c/<id>?m=<message>`), so every screen is the same index.html:
 * the app works from any base URL, reloads keep the screen, and the server's SPA fallback is never
 * needed for assets.
 */
import { useEffect, useState } from "react";

export type Route =
  | { name: "chat"; conversationId: string | null; messageId: number | null }
  | { name: "models" }
  | { name: "providers" }
  | { name: "server" }
  | { name: "settings" };

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const [pathPart = "/", queryPart = ""] = raw.split("?", 2);
  const parts = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  const query = new URLSearchParams(queryPart);
  switch (parts[0]) {
    case "c": {
      const m = Number(query.get("m"));
      return { name: "chat", conversationId: parts[1] ?? null, messageId: Number.isInteger(m) && m > 0 ? m : null };
    }
    case "models":
    case "providers":
    case "server":
    case "settings":
      return { name: parts[0] };
    default:
      return { name: "chat", conversationId: null, messageId: null };
  }
}

export function routeHref(route: Route): string {
  if (route.name !== "chat") return `#/${route.name}`;
  if (!route.conversationId) return "#/";
  return `#/c/${encodeURIComponent(route.conversationId)}${route.messageId ? `?m=${route.messageId}` : ""}`;
}

export function navigate(route: Route, options: { replace?: boolean } = {}): void {
  const href = routeHref(route);
  if (options.replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", update);
    window.addEventListener("popstate", update);
    return () => {
      window.removeEventListener("hashchange", update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}
