// typescript-eslint's recommended type-aware rules, plus the layering rules from docs/STYLE.md:
// only engine/ touches node-llama-cpp, only history/ touches better-sqlite3, server/ never imports electron,
// and the UI sees the server only through the types of server/wire/ (docs/ARCHITECTURE.md, "Layering").
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

const restrict = (patterns) => ({ "no-restricted-imports": ["error", { patterns }] });
const noLlama = {
  group: ["node-llama-cpp", "node-llama-cpp/*"],
  message: "Only server/engine/ may import node-llama-cpp.",
};
const noElectron = { group: ["electron", "electron/*"], message: "server/ never imports electron." };
const noSqlite = {
  group: ["better-sqlite3", "better-sqlite3-electron"],
  message: "Only server/history/ may import better-sqlite3.",
};
const noExpress = { group: ["express"], message: "Only the HTTP layers import express." };
const noEdges = {
  group: ["**/openai/*", "**/anthropic/*", "**/ollama/*", "**/api/*", "**/http/*"],
  message: "Wire formats and HTTP stay at the edge: convert to server/core types there.",
};

export default tseslint.config(
  { ignores: ["dist/**", "dist-electron/**", "release/**", "node_modules/**", "bench/results/**", "test-results/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "@typescript-eslint/consistent-type-imports": "off",
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["server/**/*.ts"],
    ignores: ["server/engine/**"],
    rules: restrict([noLlama, noElectron, noSqlite]),
  },
  // The neutral core and the layers under the HTTP edge never see a wire format (docs/ARCHITECTURE.md).
  {
    files: ["server/core/**/*.ts"],
    rules: restrict([
      {
        group: ["../*", "!../core/*"],
        message: "server/core/ is the bottom layer: it imports nothing from the server.",
      },
    ]),
  },
  ...[
    ["server/engine/**/*.ts", [noElectron, noSqlite, noExpress, noEdges]],
    ["server/history/**/*.ts", [noLlama, noElectron, noExpress, noEdges]],
    ["server/{providers,chat,models}/**/*.ts", [noLlama, noElectron, noSqlite, noExpress, noEdges]],
  ].map(([files, patterns]) => ({ files: [files], rules: restrict(patterns) })),
  // The shapes the UI shares with the server: no Node, no implementation, so a DOM-only program can read them.
  {
    files: ["server/wire/**/*.ts"],
    rules: restrict([
      {
        regex: String.raw`^(?!zod$|\./|\.\./core/|\.\./history/types\.js$|\.\./providers/provider-config\.js$|\.\./openai/schemas\.js$)`,
        message:
          "server/wire/ is read by the UI: it imports only zod, server/core/ and the schema modules it re-exports (no Node, no implementation).",
      },
    ]),
  },
  {
    files: ["renderer/**/*.{ts,tsx}"],
    languageOptions: { globals: { ...globals.browser } },
  },
  // The UI imports from server/ only server/wire/, and only types: nothing of the server (not even
  // zod) reaches the bundle. Matched per folder depth, because renderer/src/server/ is the UI's own.
  ...[0, 1, 2, 3].map((depth) => {
    const server = `^${String.raw`\.\./`.repeat(depth + 2)}server/`;
    return {
      files: [`renderer/src/${"*/".repeat(depth)}*.{ts,tsx}`],
      rules: {
        ...restrict([
          {
            regex: `${server}(?!wire/)`,
            message: "The UI imports from server/ only server/wire/ (the shapes it shares with the server).",
          },
        ]),
        "@typescript-eslint/no-restricted-imports": [
          "error",
          {
            patterns: [
              {
                regex: `${server}wire/`,
                allowTypeImports: true,
                message: "Import server/wire/ with `import type`: the UI bundle carries no server code, not even zod.",
              },
            ],
          },
        ],
      },
    };
  }),
);
