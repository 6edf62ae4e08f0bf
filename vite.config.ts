// Builds the React UI into dist/renderer, which the Hearth server serves at `/` and the Electron
// window loads. `base: "./"` keeps asset URLs relative (routes live in the hash, so every page is
// index.html at the root and relative URLs always resolve).
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

/**
 * The built page may load only its own files and talk only to its own server: model output can
 * never pull in a script, a font or a tracking image. Added at build time only, because the dev
 * server injects an inline script for React refresh.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join("; ");

function contentSecurityPolicy(): Plugin {
  return {
    name: "hearth-csp",
    apply: "build",
    transformIndexHtml: () => [
      { tag: "meta", attrs: { "http-equiv": "Content-Security-Policy", content: CSP }, injectTo: "head-prepend" },
    ],
  };
}

export default defineConfig({
  root: "renderer",
  base: "./",
  plugins: [react(), contentSecurityPolicy()],
  build: {
    outDir: "../dist/renderer",
    emptyOutDir: true,
    target: "es2022",
    // No source maps in the shipped app; the bundle size is reported by bench/ui.ts.
    sourcemap: false,
  },
  server: {
    // For `npx vite`: the API comes from a server started with `npm run serve -- --port 7424`.
    proxy: Object.fromEntries(["/v1", "/api", "/metrics", "/health"].map((p) => [p, "http://127.0.0.1:7424"])),
  },
});
