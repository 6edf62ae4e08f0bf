/**
 * The `route` label of the request metrics: the pattern of the route that answered
 * (`/v1/responses/:id`), never the path itself. Labels made from paths grow without bound (one
 * label set per stored response id, model name or mistyped URL, each kept for the life of the
 * process); patterns are a fixed set. Patterns are found by walking the router tree once, after
 * every route is mounted, like the 405 handlers.
 */
import type { Request } from "express";

interface Route {
  path: string;
  hearthLabel?: string;
}
interface Layer {
  route?: Route;
  rawPath?: unknown;
  handle?: { stack?: Layer[] };
}

/** Tags every route under `router` with its full pattern (mount paths included). */
export function labelRoutes(router: { stack?: Layer[] }, prefix = ""): void {
  for (const layer of router.stack ?? []) {
    if (layer.route) layer.route.hearthLabel = join(prefix, layer.route.path);
    else if (layer.handle?.stack)
      labelRoutes(layer.handle, join(prefix, typeof layer.rawPath === "string" ? layer.rawPath : ""));
  }
}

function join(a: string, b: string): string {
  const joined = `${a.replace(/\/$/, "")}/${b.replace(/^\//, "")}`;
  return joined.length > 1 ? joined.replace(/\/$/, "") : joined;
}

const PREFIXES = ["/v1", "/api", "/health", "/metrics", "/openapi.json"];

/** The label of a finished request: its route's pattern, or the API it was refused at (auth, Host, unknown path). */
export function routeLabelOf(req: Request): string {
  const label = (req.route as Route | undefined)?.hearthLabel;
  if (label) return label;
  const path = req.originalUrl.split("?")[0] ?? "";
  return PREFIXES.find((p) => path === p || path.startsWith(`${p}/`)) ?? "other";
}
