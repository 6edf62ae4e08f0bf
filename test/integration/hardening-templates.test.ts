/**
 * Chat templates are code from the model file. Copies of the test model with hostile
 * `tokenizer.chat_template`s (written with test/helpers/gguf-writer.ts): templates that reach for
 * constructors and globals render inert; templates built to loop or to exhaust memory are refused
 * within a bounded time and the model runs with a format chosen from its name; the server stays
 * responsive throughout, and a hostile template given with --chat-template is refused outright.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { withStringMetadata } from "../helpers/gguf-writer.js";
import { testModelPath } from "../helpers/models.js";
import { rawRequest } from "../helpers/raw-http.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-templates-"));
const marker = path.join(dir, "pwned");

const BODY =
  "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

/** name -> [template, whether it must be refused]. */
const TEMPLATES: Record<string, [string, boolean]> = {
  chatml: [
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    false,
  ],
  constructors: [
    `{{ messages.constructor.constructor('return process')().mainModule.require('child_process').execSync('touch ${marker}') }}` +
      `{{ range.constructor('return process')() }}{{ ''.__class__.__mro__[1].__subclasses__() }}{{ cycler.__init__.__globals__.os.popen('touch ${marker}') }}` +
      `{{ messages.__proto__.polluted }}{{ self.__init__.__globals__ }}${BODY}`,
    false,
  ],
  "huge-range": ["{% for i in range(10 ** 9) %}{% endfor %}" + BODY, true],
  "nested-loops": ["{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}" + BODY, true],
  "input-quadratic": [
    "{% for m in messages %}{% for i in range(m.content|length) %}{% for j in range(m.content|length) %}{% endfor %}{% endfor %}{% endfor %}" +
      BODY,
    true,
  ],
  "huge-output": ["{% for i in range(2000000) %}0123456789{% endfor %}" + BODY, true],
  unparsable: ["{% for %}{{ " + BODY, true],
  // Real templates raise on what they do not support (Gemma 2's and Mistral's on a system role);
  // one that raises on every chat cannot be used at all. Neither may stop the model loading.
  "raises-on-system": [
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + BODY,
    false,
  ],
  "raises-always": ["{{ raise_exception('This template renders nothing') }}" + BODY, false],
};

before(async () => {
  const source = fs.readFileSync(await testModelPath());
  for (const [name, [template]] of Object.entries(TEMPLATES))
    fs.writeFileSync(
      path.join(dir, `tpl-${name}.gguf`),
      withStringMetadata(source, "tokenizer.chat_template", template),
    );
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface ModelView {
  id: string;
  state: string;
  loaded: { chatWrapper: string } | null;
}

describe("chat templates inside model files", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ modelDirs: [dir], parallel: 1, ctxSize: 512, modelMemoryMb: 0 }, { withModel: false });
  });
  after(() => t.close());

  for (const [name, [, refused]] of Object.entries(TEMPLATES)) {
    test(`${name}: ${refused ? "refused in bounded time, the model still serves" : "renders inert"}`, async (ctx) => {
      // Liveness is polled while the model loads: a template rendered on the main thread would stall it.
      let polls = 0;
      let slowest = 0;
      let loading = true;
      const poller = (async () => {
        while (loading) {
          const t0 = performance.now();
          const res = await rawRequest(t.url, { path: "/health/live", timeoutMs: 20_000 });
          assert.equal(res.status, 200);
          slowest = Math.max(slowest, performance.now() - t0);
          polls++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const started = performance.now();
      const res = await rawRequest(t.url, {
        path: "/v1/chat/completions",
        body: JSON.stringify({
          model: `tpl-${name}`,
          messages: [
            { role: "system", content: "You tell stories." },
            { role: "user", content: "Once upon a time" },
          ],
          max_tokens: 8,
        }),
        timeoutMs: 20_000,
      }).finally(() => (loading = false));
      await poller;
      ctx.diagnostic(
        `answered in ${Math.round(performance.now() - started)} ms; /health/live answered ${polls} times meanwhile, slowest ${Math.round(slowest)} ms`,
      );
      assert.equal(res.status, 200, res.body);
      const models = JSON.parse((await rawRequest(t.url, { path: "/api/models" })).body) as { models: ModelView[] };
      const wrapper = models.models.find((m) => m.id === `tpl-${name}`)?.loaded?.chatWrapper;
      if (refused) assert.notEqual(wrapper, "JinjaTemplate", "the refused template is not used");
      else if (name === "chatml") assert.equal(wrapper, "ChatML");
      else if (name === "raises-always")
        assert.notEqual(wrapper, "JinjaTemplate", "a template that cannot render is not used");
      assert.ok(wrapper, "/api/models says which chat wrapper the loaded model uses");
      assert.equal(fs.existsSync(marker), false, "no template ran a command");
      // Unload it so the next one loads fresh (and the per-request rendering is exercised again on load).
      assert.equal((await rawRequest(t.url, { path: `/api/models/tpl-${name}/unload`, body: "{}" })).status, 200);
    });
  }

  test("a hostile template given with --chat-template is refused with the reason", async () => {
    const s = await startTestServer(
      { chatTemplate: TEMPLATES["huge-range"]![0], parallel: 1, ctxSize: 256 },
      { withModel: false },
    );
    try {
      fs.copyFileSync(await testModelPath(), path.join(s.dataDir, "models", "plain.gguf"));
      await rawRequest(s.url, { path: "/api/models/rescan", body: "{}" });
      const res = await rawRequest(s.url, {
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: "plain", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
        timeoutMs: 20_000,
      });
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /chat template cannot be used: rendering it (used more than|took longer than)/);
    } finally {
      await s.close();
    }
  });
});
