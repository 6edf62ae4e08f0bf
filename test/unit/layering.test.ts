/** The layering lint rules (docs/ARCHITECTURE.md, "Layering") fail on a deliberate violation. */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { ESLint } from "eslint";

const root = path.resolve(import.meta.dirname, "../..");
const eslint = new ESLint({ cwd: root });

async function violations(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "@typescript-eslint/no-restricted-imports")
    .map((m) => m.message);
}

const cases: [string, string][] = [
  ["server/engine/x.ts", 'import { toChatRequest } from "../openai/convert.js";'],
  ["server/engine/x.ts", 'import { respond } from "../http/respond.js";'],
  ["server/providers/x.ts", 'import { anthropicErrorBody } from "../anthropic/errors.js";'],
  ["server/providers/x.ts", 'import { createApiRouter } from "../api/index.js";'],
  ["server/chat/x.ts", 'import { toChatRequest } from "../ollama/convert.js";'],
  ["server/chat/x.ts", 'import { SseWriter } from "../http/sse.js";'],
  ["server/chat/x.ts", 'import express from "express";'],
  ["server/core/x.ts", 'import { HearthError } from "../errors.js";'],
  ["server/providers/x.ts", 'import { getLlama } from "node-llama-cpp";'],
  ["server/models/x.ts", 'import { getLlama } from "node-llama-cpp";'],
  ["server/models/x.ts", 'import express from "express";'],
  ["server/models/x.ts", 'import { chatChunkEncoder } from "../openai/format.js";'],
  // The UI sees the server only through the types of server/wire/.
  ["renderer/src/api/x.ts", 'import type { Config } from "../../../server/config.js";'],
  ["renderer/src/x.tsx", 'import type { Conversation } from "../../server/history/types.js";'],
  ["renderer/src/api/x.ts", 'import { DownloadRequestSchema } from "../../../server/wire/models.js";'],
  // server/wire/ must stay readable by a DOM-only program.
  ["server/wire/x.ts", 'import fs from "node:fs";'],
  ["server/wire/x.ts", 'import { HearthError } from "../errors.js";'],
  ["server/wire/x.ts", 'import type { LocalModelState } from "../providers/local.js";'],
];

for (const [file, code] of cases) {
  test(`refused: ${code} in ${file}`, async () => {
    assert.equal((await violations(file, `${code}\nexport {};\n`)).length, 1);
  });
}

test("allowed: the layers below the edge import the core and each other", async () => {
  assert.deepEqual(
    await violations("server/chat/x.ts", 'import type { Provider } from "../core/types.js";\nexport {};\n'),
    [],
  );
  assert.deepEqual(
    await violations("server/engine/x.ts", 'import { getLlama } from "node-llama-cpp";\nexport {};\n'),
    [],
  );
  assert.deepEqual(
    await violations("server/openai/x.ts", 'import { respond } from "../http/respond.js";\nexport {};\n'),
    [],
  );
});

test("allowed: the UI imports types from server/wire/ and its own server screen", async () => {
  const allowed: [string, string][] = [
    ["renderer/src/api/x.ts", 'import type { DownloadSnapshot } from "../../../server/wire/models.js";'],
    ["renderer/src/api/x.ts", 'import { type ModelList } from "../../../server/wire/openai.js";'],
    ["renderer/src/app/x.tsx", 'import ServerView from "../server/ServerView.js";'],
    ["renderer/src/x.tsx", 'import ServerView from "./server/ServerView.js";'],
    ["server/wire/x.ts", 'import { z } from "zod";'],
    ["server/wire/x.ts", 'import type { Conversation } from "../history/types.js";'],
  ];
  for (const [file, code] of allowed) assert.deepEqual(await violations(file, `${code}\nexport {};\n`), [], code);
});
