/**
 * /openapi.json documents every route the server answers, on both ports: the Express routers of a
 * real server (main app and the Ollama port's) are walked, each route's pattern becomes an OpenAPI
 * path (`:id` and `*id` -> `{id}`), and each of its methods must be in the document. /docs renders
 * that document (test/e2e/docs.test.ts); here its page and assets are served with the CSP.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type express from "express";
import { startTestServer, type TestServer } from "../helpers/server.js";

interface Layer {
  route?: { path: string; methods: Record<string, boolean>; hearthLabel?: string };
  handle?: { stack?: Layer[] };
}

/**
 * Pages, not API: the UI at `/` (or the not-built note), the Ollama port's "Ollama is running",
 * and the files of the /docs page (its script, styles and icon; /docs itself is documented).
 */
const isPage = (path: string) => path === "/" || path.startsWith("/docs/") || path.includes("*splat");

/** `METHOD /openapi/path` for every route under `app`. */
function routesOf(app: express.Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[] | undefined) => {
    for (const layer of stack ?? []) {
      if (layer.route) {
        const label = layer.route.hearthLabel ?? layer.route.path;
        if (isPage(label)) continue;
        const path = label.replace(/[:*](\w+)/g, "{$1}");
        for (const method of Object.keys(layer.route.methods)) {
          if (method !== "_all") out.push(`${method.toUpperCase()} ${path}`);
        }
      } else walk(layer.handle?.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

let t: TestServer;
before(async () => {
  t = await startTestServer({ ollamaPort: 0 }, { withModel: false });
});
after(() => t?.close());

test("every route of both ports, with each of its methods, is in /openapi.json", async () => {
  const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => ["get", "post", "put", "patch", "delete"].includes(k))
        .map((m) => `${m.toUpperCase()} ${path}`),
    ),
  );
  const main = routesOf(t.server.app);
  const ollama = routesOf(t.server.ollamaApp!);
  assert.ok(main.length > 40 && ollama.length === 8, `${main.length} and ${ollama.length} routes found`);
  const missing = [...main, ...ollama].filter((r) => !documented.has(r));
  assert.deepEqual(missing, [], "routes missing from /openapi.json");
  // And nothing documented that no router serves (a renamed route leaves no stale entry behind).
  const served = new Set([...main, ...ollama]);
  assert.deepEqual(
    [...documented].filter((r) => !served.has(r)),
    [],
    "documented routes that nothing serves",
  );
  for (const path of ["/api/chat", "/api/tags"]) {
    const item = doc.paths[path] as { servers?: { url: string }[] };
    assert.match(item.servers?.[0]?.url ?? "", /:11434$/, `${path} names the Ollama port`);
  }
});

test("/docs: the page, Swagger UI's files and the initializer, under a CSP with no outside source", async () => {
  const page = await fetch(`${t.url}/docs`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /https?:|\*/);
  const html = await page.text();
  assert.doesNotMatch(html, /<script>(?!<)/, "no inline script");
  for (const src of [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)) {
    assert.ok(src.startsWith("/"), `${src} is served by Hearth`);
    const res = await fetch(`${t.url}${src}`);
    assert.equal(res.status, 200, src);
  }
  const init = await (await fetch(`${t.url}/docs/docs.js`)).text();
  assert.match(init, /url: "\/openapi\.json"/);
  assert.match(init, /validatorUrl: null/);
  assert.equal((await fetch(`${t.url}/docs/package.json`)).status, 404, "only the files the page needs");
});
