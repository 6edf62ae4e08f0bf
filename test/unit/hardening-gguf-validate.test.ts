/**
 * The TypeScript GGUF header check on the malformed corpus: the files that hang node-llama-cpp's
 * reader or abort llama.cpp are refused by it with a reason, the real model passes, and no file
 * (FIFOs and devices included) makes it wait.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { GgufHeaderError, validateGgufHeader } from "../../server/engine/gguf-validate.js";
import { malformedGgufs, specialPaths } from "../helpers/gguf-corpus.js";
import { testModelPath } from "../helpers/models.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-gguf-validate-"));
let source: Buffer;
let corpus: ReturnType<typeof malformedGgufs>;
before(async () => {
  source = fs.readFileSync(await testModelPath());
  corpus = malformedGgufs(source);
  for (const [name, { bytes }] of corpus) fs.writeFileSync(path.join(dir, `${name}.gguf`), bytes);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Each of these hung the header reader or aborted the process in llama.cpp before the check existed. */
const MUST_REFUSE: Record<string, RegExp> = {
  "float-array-count-huge": /claims \d+ elements/,
  "tensor-n-dims-huge": /2147483648 dimensions/,
  "kv-count-huge": /metadata entries/,
  "tensor-count-huge": /tensors, more than/,
  "string-array-count-huge": /claims \d+ elements/,
  "nested-arrays-deep": /array of arrays/,
  "block-count-huge": /block_count/,
  "block-count-zero": /block_count/,
  "vocab-empty": /vocabulary is empty/,
  "feed-forward-zero": /feed_forward_length is 0/,
  "head-count-zero": /head_count is 0/,
  "head-count-kv-zero": /head_count_kv is 0/,
  "epsilon-nan": /epsilon is NaN/,
  "tensor-dims-overflow": /overflows/,
  "tensor-type-unknown": /unknown type 999/,
  "alignment-zero": /alignment/,
  "version-0": /version 0/,
  "wrong-magic": /signature/,
  "tensor-duplicate-name": /appears twice/,
};

test("the real model passes", async () => {
  await validateGgufHeader(await testModelPath());
});

test("files that hang the header reader or abort llama.cpp are refused with a reason", async () => {
  for (const [name, reason] of Object.entries(MUST_REFUSE)) {
    assert.ok(corpus.has(name), name);
    await assert.rejects(
      validateGgufHeader(path.join(dir, `${name}.gguf`)),
      (err: unknown) => err instanceof GgufHeaderError && reason.test(err.reason),
      name,
    );
  }
});

test("every file of the corpus is judged without waiting, cut-short files included", async () => {
  let refused = 0;
  for (const name of corpus.keys()) {
    try {
      await validateGgufHeader(path.join(dir, `${name}.gguf`));
    } catch (err) {
      assert.ok(err instanceof GgufHeaderError, `${name}: ${String(err)}`);
      refused++;
    }
  }
  assert.ok(
    refused > corpus.size * 0.8,
    `${refused} of ${corpus.size} refused here; the rest are left to the readers after it`,
  );
});

test("a directory, a FIFO, a device and a symlink loop are refused without being opened", async () => {
  const special = path.join(dir, "special");
  fs.mkdirSync(special);
  for (const [file] of specialPaths(special)) {
    await assert.rejects(validateGgufHeader(path.join(special, file)), GgufHeaderError, file);
  }
  await assert.rejects(validateGgufHeader("/dev/zero"), /device/);
});
