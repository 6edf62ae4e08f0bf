// typescript-eslint's recommended type-aware rules, plus the layering rules from docs/STYLE.md:
// only engine/ touches node-llama-cpp, only history/ touches better-sqlite3, server/ never imports electron.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

const restrict = (patterns) => ({ "no-restricted-imports": ["error", { patterns }] });

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
    rules: restrict([
      { group: ["node-llama-cpp", "node-llama-cpp/*"], message: "Only server/engine/ may import node-llama-cpp." },
      { group: ["electron", "electron/*"], message: "server/ never imports electron." },
      {
        group: ["better-sqlite3", "better-sqlite3-electron"],
        message: "Only server/history/ may import better-sqlite3.",
      },
    ]),
  },
  {
    files: ["server/history/**/*.ts"],
    rules: restrict([
      { group: ["node-llama-cpp", "node-llama-cpp/*"], message: "Only server/engine/ may import node-llama-cpp." },
      { group: ["electron", "electron/*"], message: "server/ never imports electron." },
      { group: ["express"], message: "Only the HTTP layers import express." },
    ]),
  },
  {
    files: ["server/engine/**/*.ts"],
    rules: restrict([
      { group: ["electron", "electron/*"], message: "server/ never imports electron." },
      {
        group: ["better-sqlite3", "better-sqlite3-electron"],
        message: "Only server/history/ may import better-sqlite3.",
      },
      { group: ["express"], message: "Only the HTTP layers import express." },
    ]),
  },
  {
    files: ["renderer/**/*.{ts,tsx}"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
