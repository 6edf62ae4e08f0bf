/**
 * A real test server (test/helpers/server.ts) whose library is exactly some scripted models
 * (test/helpers/scripted-models.ts), with the ids it lists them under: what the tests of reasoning,
 * family tool calls, `ignore_eos`, history of thoughts and the compatibility suite all start with.
 */
import assert from "node:assert/strict";
import type { ConfigInput } from "../../server/config.js";
import { scriptedModelsDir, type ScriptedModelName } from "./scripted-models.js";
import { startTestServer, type TestServer } from "./server.js";

export interface ScriptedServer extends TestServer {
  /** The id the server lists scripted model `name` under (its file name, content hash included, without `.gguf`). */
  id(name: ScriptedModelName): string;
}

/**
 * Starts a server that scans only `names` (each file's 150k-token vocabulary costs about a second
 * to scan; the shared cache holds every scripted model), one sequence per model unless `overrides`
 * says otherwise, and no `--model` unless `withModel` (then the tiny stories260K too). Asserts that
 * every model is listed. `close()` also removes the folder of links.
 */
export async function startScriptedServer(
  names: readonly ScriptedModelName[],
  overrides: Partial<ConfigInput> = {},
  opts: { withModel?: boolean } = {},
): Promise<ScriptedServer> {
  const library = names.length > 0 ? scriptedModelsDir(names) : undefined;
  let t: TestServer;
  try {
    t = await startTestServer(
      { parallel: 1, ...overrides, ...(library ? { modelDirs: [library.dir] } : {}) },
      { withModel: opts.withModel ?? false },
    );
  } catch (err) {
    library?.cleanup();
    throw err;
  }
  const ids = new Map<ScriptedModelName, string>();
  // Not through the client, whose 60 s timeout a loaded 2-core machine can outlast while the
  // server scans the models' vocabularies: the listing waits for the scan, however long.
  const res = await fetch(`${t.url}/v1/models`, {
    headers: overrides.apiKey ? { authorization: `Bearer ${overrides.apiKey}` } : {},
  });
  assert.equal(res.status, 200, await res.clone().text());
  const listed = ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id);
  for (const name of names) {
    const id = listed.find((m) => m.startsWith(`${name}-`) || m === name);
    assert.ok(id, `${name} is listed (${listed.join(", ")})`);
    ids.set(name, id);
  }
  return {
    ...t,
    id(name) {
      const id = ids.get(name);
      if (id === undefined) throw new Error(`${name} is not among this server's scripted models`);
      return id;
    },
    async close() {
      await t.close();
      library?.cleanup();
    },
  };
}
