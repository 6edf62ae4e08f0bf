/**
 * The model library on real files: the models in ../shared/models (linked, never copied into the
 * repo), corrupt and truncated copies, a real split model, extra folders, import, delete, and
 * path traversal through model names in /api and /v1.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { splitGguf } from "../helpers/gguf-split.js";
import { modelPath } from "../helpers/models.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

interface ModelView {
  id: string;
  file: string;
  files: string[];
  location: string;
  status: "ok" | "invalid";
  error: string | null;
  sizeBytes: number;
  state: string;
  facts: null | {
    architecture: string;
    parameters: number;
    quantization: string | null;
    trainContextSize: number | null;
    hasChatTemplate: boolean;
    thinks: boolean;
    supportsEmbeddings: boolean;
    kind: string;
    parts: number;
    layers: number;
  };
}

async function api<T>(
  t: TestServer,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${t.url}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** A request with the path exactly as written: fetch would resolve `%2e%2e` segments before sending. */
function rawStatus(base: string, method: string, route: string): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: route }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("model library", () => {
  let t: TestServer;
  let extra: string;
  let scratch: string;
  let models: string;
  let shared: { stories: string; bench11: string; bench86: string };
  const byId = async () =>
    new Map((await api<{ models: ModelView[] }>(t, "GET", "/api/models")).body.models.map((m) => [m.id, m]));

  before(async () => {
    shared = {
      stories: await modelPath("stories260K.gguf"),
      bench11: await modelPath("bench-11M-q8_0.gguf"),
      bench86: await modelPath("bench-86M-q4_k_m.gguf"),
    };
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-lib-"));
    extra = path.join(scratch, "extra");
    fs.mkdirSync(path.join(extra, "nested", "deeper"), { recursive: true });
    fs.symlinkSync(shared.bench11, path.join(extra, "bench-11M-q8_0.gguf"));
    fs.symlinkSync(shared.stories, path.join(extra, "nested", "deeper", "nested-stories.gguf"));
    t = await startTestServer(
      { modelDirs: [extra], modelIdleTimeout: 0, parallel: 1, ctxSize: 256 },
      { withModel: false },
    );
    models = path.join(t.dataDir, "models");
    fs.mkdirSync(models, { recursive: true });
    for (const f of Object.values(shared)) fs.symlinkSync(f, path.join(models, path.basename(f)));
    const bytes = fs.readFileSync(shared.stories);
    fs.writeFileSync(path.join(models, "truncated-data.gguf"), bytes.subarray(0, bytes.length - 1000));
    fs.writeFileSync(path.join(models, "truncated-header.gguf"), bytes.subarray(0, 2000));
    fs.writeFileSync(path.join(models, "garbage.gguf"), "this is a text file, not a model\n");
    fs.writeFileSync(path.join(models, "empty.gguf"), "");
    fs.symlinkSync(path.join(scratch, "gone.gguf"), path.join(models, "dangling.gguf"));
    splitGguf(shared.stories, models, "stories-split", 2);
    const three = splitGguf(shared.stories, path.join(scratch, "three"), "stories-three", 3);
    fs.copyFileSync(three[0]!, path.join(models, path.basename(three[0]!)));
    fs.copyFileSync(three[2]!, path.join(models, path.basename(three[2]!)));
    const cut = splitGguf(shared.stories, path.join(scratch, "cut"), "stories-cut", 2);
    fs.copyFileSync(cut[0]!, path.join(models, path.basename(cut[0]!)));
    fs.writeFileSync(path.join(models, path.basename(cut[1]!)), fs.readFileSync(cut[1]!).subarray(0, 5000));
    fs.mkdirSync(path.join(models, ".downloads", "dl_0000000000000000"), { recursive: true });
    fs.copyFileSync(shared.stories, path.join(models, ".downloads", "dl_0000000000000000", "hidden.gguf"));
    const rescan = await api<{ models: ModelView[] }>(t, "POST", "/api/models/rescan");
    assert.equal(rescan.status, 200);
  });
  after(async () => {
    await t?.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  test("lists each GGUF with what its header says", async () => {
    const m = await byId();
    const stories = m.get("stories260K")!;
    assert.equal(stories.status, "ok");
    assert.equal(stories.location, "managed");
    assert.equal(stories.sizeBytes, fs.statSync(shared.stories).size);
    assert.deepEqual(
      { ...stories.facts, parameters: undefined },
      {
        architecture: "llama",
        name: "llama",
        parameters: undefined,
        quantization: "F32",
        trainContextSize: 2048,
        layers: 6,
        embeddingLength: 64,
        hasChatTemplate: false,
        thinks: false,
        supportsEmbeddings: false,
        supportsRanking: false,
        kind: "llm",
        weightsBytes: 1171200,
        parts: 1,
      },
    );
    assert.ok(
      stories.facts!.parameters > 250_000 && stories.facts!.parameters < 300_000,
      String(stories.facts!.parameters),
    );
    assert.equal(m.get("bench-11M-q8_0")!.facts!.quantization, "Q8_0");
    assert.equal(m.get("bench-86M-q4_k_m")!.facts!.quantization, "Q4_K_M");
    assert.ok(m.get("bench-86M-q4_k_m")!.facts!.parameters > 80_000_000);
    assert.equal(stories.state, "unloaded");
    assert.ok(!m.has("hidden"), "work in progress under .downloads is never listed");
  });

  test("corrupt and truncated files are listed as invalid with the reason, and cannot be used", async () => {
    const m = await byId();
    const reasons: Record<string, RegExp> = {
      "truncated-data": /truncated: it has \d+ bytes but its tensors need \d+/,
      "truncated-header": /truncated or damaged/,
      garbage: /Not a GGUF file/,
      empty: /Not a GGUF file|truncated/,
      dangling: /not found/i,
      "stories-cut": /truncated \(part 2 of 2\)/,
      "stories-three": /Part 2 of 3 is missing/,
    };
    for (const [id, reason] of Object.entries(reasons)) {
      const entry = m.get(id);
      assert.ok(entry, `${id} is listed`);
      assert.equal(entry.status, "invalid", id);
      assert.match(entry.error ?? "", reason, id);
    }
    const res = await api<{ error: { code: string; message: string } }>(t, "POST", "/v1/chat/completions", {
      model: "truncated-data",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "model_unusable");
    assert.match(res.body.error.message, /truncated/);
    const v1 = await t.client.models.list();
    const ids = v1.data.map((d) => d.id);
    assert.ok(
      ids.includes("stories260K") && !ids.includes("garbage") && !ids.includes("truncated-data"),
      ids.join(", "),
    );
  });

  test("a split model is one entry that loads and generates", async () => {
    const split = (await byId()).get("stories-split")!;
    assert.equal(split.status, "ok", split.error ?? "");
    assert.equal(split.files.length, 2);
    assert.equal(split.facts!.parts, 2);
    assert.equal(
      split.sizeBytes,
      split.files.reduce((s, f) => s + fs.statSync(f).size, 0),
    );
    const ids = [...(await byId()).keys()];
    assert.ok(!ids.some((id) => id.includes("00002-of")), "parts are not listed on their own");
    const reply = await t.client.completions.create({
      model: "stories-split",
      prompt: "Once upon a time",
      max_tokens: 8,
    });
    assert.ok(reply.choices[0]!.text.length > 0);
  });

  test("extra folders are listed (nested too), same names get distinct stable ids, and are not Hearth's to delete", async () => {
    const m = await byId();
    const twins = [m.get("bench-11M-q8_0"), m.get("bench-11M-q8_0~2")];
    assert.ok(twins[0] && twins[1], [...m.keys()].join(", "));
    assert.deepEqual(twins.map((x) => x!.location).sort(), ["folder", "managed"]);
    const inExtra = twins.find((x) => x!.location === "folder")!;
    assert.equal(m.get("nested-stories")?.status, "ok");
    // A rescan keeps every id where it was: a client using one never finds it renamed.
    const again = new Map(
      (await api<{ models: ModelView[] }>(t, "POST", "/api/models/rescan")).body.models.map((x) => [x.id, x.file]),
    );
    for (const [id, entry] of m) assert.equal(again.get(id), entry.file, id);
    const del = await api<{ error: { code: string } }>(t, "DELETE", `/api/models/${encodeURIComponent(inExtra.id)}`);
    assert.equal(del.status, 400);
    assert.equal(del.body.error.code, "not_in_models_folder");
    assert.ok(fs.existsSync(path.join(extra, "bench-11M-q8_0.gguf")));
  });

  test("import by copy or link, with the source checked first", async () => {
    const copy = await api<ModelView>(t, "POST", "/api/models/import", {
      path: shared.stories,
      mode: "copy",
      name: "imported-copy.gguf",
    });
    assert.equal(copy.status, 201, JSON.stringify(copy.body));
    assert.equal(copy.body.id, "imported-copy");
    assert.equal(copy.body.status, "ok");
    const copied = path.join(models, "imported-copy.gguf");
    assert.ok(fs.lstatSync(copied).isFile() && !fs.lstatSync(copied).isSymbolicLink());
    assert.deepEqual(fs.readFileSync(copied), fs.readFileSync(shared.stories));

    const link = await api<ModelView>(t, "POST", "/api/models/import", {
      path: shared.bench11,
      mode: "link",
      name: "imported-link.gguf",
    });
    assert.equal(link.status, 201, JSON.stringify(link.body));
    assert.ok(fs.lstatSync(path.join(models, "imported-link.gguf")).isSymbolicLink());

    const split = splitGguf(shared.stories, path.join(scratch, "to-import"), "imp-split", 2);
    const splitImport = await api<ModelView>(t, "POST", "/api/models/import", { path: split[0], mode: "copy" });
    assert.equal(splitImport.status, 201, JSON.stringify(splitImport.body));
    assert.equal(splitImport.body.files.length, 2);

    const garbage = path.join(scratch, "garbage.gguf");
    fs.writeFileSync(garbage, "not a model");
    const bad = await api<{ error: { code: string; message: string } }>(t, "POST", "/api/models/import", {
      path: garbage,
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_model_file");
    assert.ok(
      !fs.existsSync(path.join(models, "garbage.gguf")) ||
        fs.readFileSync(path.join(models, "garbage.gguf"), "utf8").startsWith("this is"),
      "the bad file was not copied",
    );

    assert.equal(
      (await api(t, "POST", "/api/models/import", { path: shared.stories, name: "imported-copy.gguf" })).status,
      409,
    );
    assert.equal((await api(t, "POST", "/api/models/import", { path: "relative/x.gguf" })).status, 400);
    for (const name of ["../outside.gguf", "/tmp/outside.gguf", "sub/x.gguf", "..%2Foutside.gguf"]) {
      assert.equal((await api(t, "POST", "/api/models/import", { path: shared.stories, name })).status, 400, name);
    }
    assert.ok(!fs.existsSync(path.join(t.dataDir, "outside.gguf")));
    assert.deepEqual(
      fs.readdirSync(path.join(models, ".downloads")).filter((d) => d.startsWith("import-")),
      [],
      "no staging left",
    );
  });

  test("delete removes the files (a link, not its target) and unloads the model first", async () => {
    const load = await api<ModelView>(t, "POST", "/api/models/imported-link/load");
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.equal(load.body.state, "loaded");
    assert.equal((await api(t, "DELETE", "/api/models/imported-link")).status, 204);
    assert.ok(!fs.existsSync(path.join(models, "imported-link.gguf")));
    assert.ok(fs.existsSync(shared.bench11), "the link's target is untouched");
    assert.equal((await api(t, "GET", "/api/models/imported-link")).status, 404);
    const ready = await api<{ models: { id: string }[] }>(t, "GET", "/health/ready");
    assert.ok(!ready.body.models.some((m) => m.id === "imported-link"));
    assert.equal((await api(t, "DELETE", "/api/models/imported-copy")).status, 204);
    assert.ok(!fs.existsSync(path.join(models, "imported-copy.gguf")));
  });

  test("a loaded model whose file disappears is let go at the next rescan", async () => {
    assert.ok(
      (await t.client.completions.create({ model: "nested-stories", prompt: "Once", max_tokens: 2 })).choices[0],
    );
    assert.equal((await api<ModelView>(t, "GET", "/api/models/nested-stories")).body.state, "loaded");
    fs.rmSync(path.join(extra, "nested", "deeper", "nested-stories.gguf"));
    await api(t, "POST", "/api/models/rescan");
    const deadline = Date.now() + 20_000;
    let states: { id: string }[] = [];
    while (Date.now() < deadline) {
      states = (await api<{ models: { id: string }[] }>(t, "GET", "/health/ready")).body.models;
      if (!states.some((m) => m.id === "nested-stories")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(!states.some((m) => m.id === "nested-stories"), JSON.stringify(states));
    assert.equal((await api(t, "GET", "/api/models/nested-stories")).status, 404);
  });

  test("model names that are paths are refused with 400 in /api and /v1", async () => {
    const outside = shared.stories;
    const chat = (model: string) =>
      api<{ error: { code: string } }>(t, "POST", "/v1/chat/completions", {
        model,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2,
      });
    for (const model of [
      "../stories260K",
      "../../../../etc/passwd",
      outside,
      "models/../stories260K",
      "..\\stories260K",
      "%2e%2e%2fstories260K",
      "C:\\x.gguf",
    ]) {
      const res = await chat(model);
      assert.equal(res.status, 400, `${model}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "invalid_model_name");
    }
    const emb = await api(t, "POST", "/v1/embeddings", { model: "../stories260K", input: "x" });
    assert.equal(emb.status, 400);
    const completion = await api(t, "POST", "/v1/completions", { model: outside, prompt: "x" });
    assert.equal(completion.status, 400);
    for (const route of [
      "/api/models/..%2F..%2Fetc%2Fpasswd",
      "/api/models/%2e%2e",
      "/api/models/%2e%2e%2f%2e%2e%2fetc",
      "/api/models/..%5Cx",
      "/api/models/%2Fetc%2Fpasswd",
      "/api/models/..%2Fstories260K/settings",
      "/v1/models/..%2F..%2Fetc%2Fpasswd",
      "/v1/models/%2e%2e/%2e%2e/etc/passwd",
    ]) {
      assert.equal(await rawStatus(t.url, "GET", route), 400, route);
    }
    for (const [method, route] of [
      ["DELETE", "/api/models/..%2Fstories260K"],
      ["POST", "/api/models/..%2Fstories260K/load"],
      ["POST", "/api/models/%2e%2e%2fx/unload"],
      ["PUT", "/api/models/%2e%2e/settings"],
    ] as const) {
      assert.equal(await rawStatus(t.url, method, route), 400, `${method} ${route}`);
    }
    assert.ok(fs.existsSync(outside));
  });
});

describe("links out of the models folder", () => {
  let t: TestServer;
  let outside: string;
  let models: string;
  before(async () => {
    outside = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-outside-"));
    t = await startTestServer({ modelIdleTimeout: 0 }, { withModel: false });
    models = path.join(t.dataDir, "models");
    fs.mkdirSync(models, { recursive: true });
  });
  after(async () => {
    await t?.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  test("a model in a linked folder is not the models folder's: listed as a folder's, never deleted", async () => {
    const stories = await modelPath("stories260K.gguf");
    const real = path.join(outside, "disk", "mine.gguf");
    fs.mkdirSync(path.dirname(real), { recursive: true });
    fs.copyFileSync(stories, real);
    fs.symlinkSync(path.dirname(real), path.join(models, "disk"));
    await api(t, "POST", "/api/models/rescan");
    const listed = await api<ModelView & { folder: string }>(t, "GET", "/api/models/mine");
    assert.equal(listed.status, 200);
    assert.equal(listed.body.location, "folder");
    assert.equal(listed.body.folder, fs.realpathSync(path.dirname(real)));
    const del = await api<{ error: { code: string } }>(t, "DELETE", "/api/models/mine");
    assert.equal(del.status, 400, JSON.stringify(del.body));
    assert.equal(del.body.error.code, "not_in_models_folder");
    assert.ok(fs.existsSync(real), "the real file outside the models folder is still there");
  });

  test("a folder swapped for a link after the scan: the delete checks real paths again", async () => {
    const stories = await modelPath("stories260K.gguf");
    fs.mkdirSync(path.join(models, "sub"));
    fs.copyFileSync(stories, path.join(models, "sub", "swapped.gguf"));
    await api(t, "POST", "/api/models/rescan");
    assert.equal((await api<ModelView>(t, "GET", "/api/models/swapped")).body.location, "managed");
    // Between the scan and the delete, `sub` becomes a link to a folder elsewhere with the same file name.
    const elsewhere = path.join(outside, "elsewhere");
    fs.mkdirSync(elsewhere);
    fs.copyFileSync(stories, path.join(elsewhere, "swapped.gguf"));
    fs.rmSync(path.join(models, "sub"), { recursive: true });
    fs.symlinkSync(elsewhere, path.join(models, "sub"));
    const del = await api<{ error: { code: string } }>(t, "DELETE", "/api/models/swapped");
    assert.equal(del.status, 400, JSON.stringify(del.body));
    assert.ok(fs.existsSync(path.join(elsewhere, "swapped.gguf")));
  });

  test("a downloads folder that links elsewhere is never cleaned, and no download or import goes through it", async () => {
    const precious = path.join(outside, "precious");
    fs.mkdirSync(path.join(precious, "photos"), { recursive: true });
    fs.writeFileSync(path.join(precious, "photos", "a.jpg"), "x");
    fs.rmSync(path.join(models, ".downloads"), { recursive: true, force: true });
    fs.symlinkSync(precious, path.join(models, ".downloads"));
    const list = await api<{ downloads: unknown[] }>(t, "GET", "/api/models/downloads");
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.downloads, []);
    assert.ok(fs.existsSync(path.join(precious, "photos", "a.jpg")), "a folder without job.json outside was kept");
    const imported = await api<{ error: { code: string } }>(t, "POST", "/api/models/import", {
      path: await modelPath("stories260K.gguf"),
      name: "through-link.gguf",
    });
    assert.equal(imported.status, 400, JSON.stringify(imported.body));
    assert.equal(imported.body.error.code, "not_in_models_folder");
    assert.deepEqual(fs.readdirSync(precious), ["photos"], "nothing was staged outside");
  });
});
