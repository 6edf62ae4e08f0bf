/**
 * Gives every registered path a final handler that answers 405 (with `Allow`) when no handler
 * matched the method, so a wrong method is never reported as an unknown path. Walks the router
 * tree once after all routes are mounted, so route modules need not remember to do it. A path
 * may be registered by several routes (`router.get(p)`, then `router.post(p)`): the 405 goes on
 * the last of them, with the union of their methods.
 */
import type express from "express";
import { MethodNotAllowedError } from "../errors.js";

interface Route {
  path: string;
  methods: Record<string, boolean>;
  all(handler: express.RequestHandler): unknown;
}
interface Layer {
  route?: Route;
  handle?: { stack?: Layer[] };
}

export function addMethodNotAllowed(router: { stack?: Layer[] }): void {
  const byPath = new Map<string, Route[]>();
  for (const layer of router.stack ?? []) {
    if (layer.route) {
      const list = byPath.get(layer.route.path) ?? [];
      list.push(layer.route);
      byPath.set(layer.route.path, list);
    } else if (layer.handle?.stack) {
      addMethodNotAllowed(layer.handle);
    }
  }
  for (const [path, routes] of byPath) {
    // Catch-alls (the UI's SPA fallback) would turn every unknown path into a 405.
    if (path.includes("*")) continue;
    const allowed = [...new Set(routes.flatMap((r) => Object.keys(r.methods)))]
      .filter((m) => m !== "_all")
      .map((m) => m.toUpperCase());
    if (allowed.length === 0) continue;
    if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
    routes
      .at(-1)!
      .all((req, _res, next) =>
        next(new MethodNotAllowedError(req.method, req.originalUrl.split("?")[0] ?? "", allowed)),
      );
  }
}
