/** Model names and download sources: what is accepted, what is refused as a path, how sources read. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HearthError } from "../../server/errors.js";
import { describeNetworkError } from "../../server/models/downloads.js";
import {
  assertSafeModelName,
  looksLikePathTraversal,
  modelIdFromFileName,
  safeGgufFileName,
  splitPartNames,
  splitPartOf,
} from "../../server/models/names.js";
import { hfFileUrl, parseSource } from "../../server/models/sources.js";

const HF = "https://huggingface.co";

describe("model names", () => {
  test("path-like names are refused with 400, ordinary and remote ids pass", () => {
    for (const bad of [
      "../x",
      "a/../../b",
      "..",
      "/etc/passwd",
      "C:\\models\\x",
      "c:x",
      "a\\b",
      "%2e%2e%2fetc",
      "..%2F..%2Fx",
      "x%00",
      "a\0b",
      "~/models/x",
      "./x",
      "line\nbreak",
    ]) {
      assert.throws(
        () => assertSafeModelName(bad),
        (err: HearthError) => err.status === 400 && err.code === "invalid_model_name",
        bad,
      );
    }
    for (const ok of [
      "stories260K",
      "Qwen3-0.6B-Q8_0",
      "model.gguf",
      "openai/gpt-4o",
      "bench-11M~2",
      "llama-3.2-1b-instruct@q4",
    ]) {
      assert.doesNotThrow(() => assertSafeModelName(ok), ok);
    }
    assert.equal(looksLikePathTraversal("a..b"), false, "dots inside a name are fine");
  });

  test("file names for the models folder are one plain segment ending in .gguf", () => {
    assert.equal(safeGgufFileName("Qwen3-4B-Q4_K_M.gguf", "name"), "Qwen3-4B-Q4_K_M.gguf");
    for (const bad of [
      "../x.gguf",
      "sub/x.gguf",
      ".hidden.gguf",
      "x.bin",
      "/abs.gguf",
      "x\\y.gguf",
      "%2e%2e%2fx.gguf",
      "",
    ]) {
      assert.throws(
        () => safeGgufFileName(bad, "name"),
        (err: HearthError) => err.status === 400 && err.param === "name",
        bad,
      );
    }
  });

  test("split parts are recognised and named like llama.cpp's gguf-split", () => {
    assert.deepEqual(splitPartOf("m-00002-of-00003.gguf"), { base: "m", part: 2, parts: 3 });
    assert.equal(splitPartOf("m-00004-of-00003.gguf"), null);
    assert.equal(splitPartOf("m.gguf"), null);
    assert.deepEqual(splitPartNames("m-00002-of-00003.gguf"), [
      "m-00001-of-00003.gguf",
      "m-00002-of-00003.gguf",
      "m-00003-of-00003.gguf",
    ]);
    assert.equal(modelIdFromFileName("m-00001-of-00003.gguf"), "m");
    assert.equal(modelIdFromFileName("Qwen3-4B-Q4_K_M.gguf"), "Qwen3-4B-Q4_K_M");
  });
});

describe("download sources", () => {
  test("hf: references name a file or a repository (with an optional quantization and revision)", () => {
    assert.deepEqual(parseSource("hf:Qwen/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf", HF), {
      kind: "hf-file",
      repo: "Qwen/Qwen3-4B-GGUF",
      revision: "main",
      file: "Qwen3-4B-Q4_K_M.gguf",
    });
    assert.deepEqual(parseSource("hf:o/r/sub/dir/m.gguf#v1.0", HF), {
      kind: "hf-file",
      repo: "o/r",
      revision: "v1.0",
      file: "sub/dir/m.gguf",
    });
    assert.deepEqual(parseSource("hf:o/r:Q4_K_M", HF), {
      kind: "hf-repo",
      repo: "o/r",
      revision: "main",
      quantization: "Q4_K_M",
    });
    assert.deepEqual(parseSource("hf:o/r", HF, "Q8_0"), {
      kind: "hf-repo",
      repo: "o/r",
      revision: "main",
      quantization: "Q8_0",
    });
    assert.deepEqual(parseSource("o/r", HF, "Q8_0"), {
      kind: "hf-repo",
      repo: "o/r",
      revision: "main",
      quantization: "Q8_0",
    });
  });

  test("huggingface.co URLs (resolve, blob, tree, repository) become Hugging Face references", () => {
    assert.deepEqual(parseSource("https://huggingface.co/o/r/resolve/main/m.gguf?download=true", HF), {
      kind: "hf-file",
      repo: "o/r",
      revision: "main",
      file: "m.gguf",
    });
    assert.deepEqual(parseSource("https://huggingface.co/o/r/blob/dev/a%20b.gguf", HF), {
      kind: "hf-file",
      repo: "o/r",
      revision: "dev",
      file: "a b.gguf",
    });
    assert.deepEqual(parseSource("https://hf.co/o/r", HF, "Q4_K_M"), {
      kind: "hf-repo",
      repo: "o/r",
      revision: "main",
      quantization: "Q4_K_M",
    });
    assert.deepEqual(parseSource("https://huggingface.co/o/r/tree/main", HF), {
      kind: "hf-repo",
      repo: "o/r",
      revision: "main",
    });
    // A mirror's URLs are Hugging Face URLs too; other paths on it are plain files.
    assert.deepEqual(parseSource("http://mirror.local/hf/o/r/resolve/main/m.gguf", "http://mirror.local/hf"), {
      kind: "hf-file",
      repo: "o/r",
      revision: "main",
      file: "m.gguf",
    });
    assert.deepEqual(parseSource("http://mirror.local/files/m.gguf", "http://mirror.local/hf"), {
      kind: "url",
      url: "http://mirror.local/files/m.gguf",
    });
    assert.deepEqual(parseSource("https://example.com/models/m.gguf", HF), {
      kind: "url",
      url: "https://example.com/models/m.gguf",
    });
  });

  test("sources that are not usable, or that climb out of a repository, are 400s", () => {
    for (const bad of [
      "hf:../x/y.gguf",
      "hf:o/r/../../m.gguf",
      "hf:o/r/%2e%2e/m.gguf",
      "hf:o",
      "not a source",
      "ftp://x/y.gguf",
      "https://huggingface.co/o/r/commits/main",
      "hf:o/r/m.gguf#../../x",
    ]) {
      assert.throws(
        () => parseSource(bad, HF),
        (err: HearthError) => err.status === 400,
        bad,
      );
    }
  });

  test("file URLs escape each part of the path", () => {
    assert.equal(
      hfFileUrl("http://h/base/", "o/r", "refs/pr/1", "sub/a b.gguf"),
      "http://h/base/o/r/resolve/refs%2Fpr%2F1/sub/a%20b.gguf",
    );
  });

  test("network failures are one answer for a person, whatever the cause; the cause is kept for the log", () => {
    const failure = (code: string, url = "http://127.0.0.1:9/x") =>
      describeNetworkError(Object.assign(new TypeError("fetch failed"), { cause: { code } }), url);
    const refused = failure("ECONNREFUSED");
    assert.equal(refused.offline, true);
    assert.equal(refused.code, "host_unreachable");
    assert.equal(refused.networkCode, "ECONNREFUSED");
    assert.match(refused.message, /^127\.0\.0\.1:9 gave no HTTP answer/);
    // A download can be started from any URL through /api: the words must not tell which ports
    // of which hosts listen (issue 22), as a provider test does not.
    for (const code of [
      "ENOTFOUND",
      "EAI_AGAIN",
      "EHOSTUNREACH",
      "ETIMEDOUT",
      "UND_ERR_CONNECT_TIMEOUT",
      "ECONNRESET",
      "UND_ERR_SOCKET",
    ]) {
      const e = failure(code);
      assert.deepEqual([e.status, e.code, e.message], [refused.status, refused.code, refused.message], code);
      assert.equal(e.networkCode, code);
    }
    // What the manager does next still follows the cause: a reset may be retried.
    const reset = failure("ECONNRESET");
    assert.equal(reset.offline, false);
    assert.equal(reset.retryable, true);
    assert.match(failure("CERT_HAS_EXPIRED", "https://huggingface.co/x").message, /TLS certificate of huggingface\.co/);
  });
});
