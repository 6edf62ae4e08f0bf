/**
 * `/docs`: the API reference, rendered in the browser by Swagger UI (`swagger-ui-dist`, served
 * from the app, never a CDN) from `/openapi.json`. The page has no inline script, so it runs
 * under a strict Content-Security-Policy (the desktop window's own, electron/security.ts, allows
 * it too): scripts and connections to this origin only, inline styles because Swagger UI sets
 * `style` attributes. The online validator badge, Swagger UI's one outside request, is off.
 */
import { createRequire } from "node:module";
import path from "node:path";
import express from "express";
import { notFoundHandler } from "./error-handler.js";

/** The Content-Security-Policy of /docs and its files. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Swagger UI's files the page loads; nothing else of the package is served. */
const ASSETS = ["swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"] as const;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Hearth API reference</title>
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" />
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
    <link rel="stylesheet" href="/docs/docs.css" />
  </head>
  <body>
    <nav class="hearth-docs-nav"><a href="/">&larr; Back to Hearth</a> <a href="/openapi.json">openapi.json</a></nav>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/docs.js"></script>
  </body>
</html>
`;

const INIT = `"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  // The badge asks validator.swagger.io about the document: no request leaves this machine.
  validatorUrl: null,
  tryItOutEnabled: false,
});
`;

const STYLE = `.hearth-docs-nav { font: 14px system-ui, sans-serif; padding: 10px 20px; display: flex; gap: 16px; }
.hearth-docs-nav a { color: #4990e2; }
`;

function swaggerUiDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

export function createDocsRouter(): express.Router {
  const router = express.Router();
  const dir = swaggerUiDir();
  router.use((_req, res, next) => {
    res.setHeader("Content-Security-Policy", DOCS_CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    next();
  });
  router.get("/", (_req, res) => {
    res.setHeader("Cache-Control", "no-cache");
    res.type("html").send(PAGE);
  });
  router.get("/docs.js", (_req, res) => {
    res.type("js").send(INIT);
  });
  router.get("/docs.css", (_req, res) => {
    res.type("css").send(STYLE);
  });
  for (const asset of ASSETS) {
    router.get(`/${asset}`, (_req, res) => {
      res.sendFile(path.join(dir, asset), { maxAge: "1d" });
    });
  }
  // Nothing else under /docs: not Swagger UI's other files, nor the UI's page (its SPA fallback).
  router.use(notFoundHandler);
  return router;
}
