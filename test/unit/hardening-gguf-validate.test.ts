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
import { engineCrashGgufs, malformedGgufs, specialPaths } from "../helpers/gguf-corpus.js";
import { modelPath } from "../helpers/models.js";
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

/** The reason each structurally valid file that aborts llama.cpp is refused with (gguf-corpus.ts, engineCrashGgufs). */
const CRASH_REASONS: Record<string, RegExp> = {
  "vocab-duplicate-token": /the token 'he' twice \(ids \d+ and \d+\)/,
  "vocab-empty-token-collides": /the token '\[EMPTY_\d+\]' twice/,
  "vocab-empty-byte-token": /no byte token <0x0A>/,
  "vocab-no-byte-tokens": /no byte token <0x00>/,
  "vocab-missing-byte-token": /no byte token <0xF0>/,
  "tokenizer-bert": /WordPiece \('bert'\) vocabulary has byte tokens/,
  "tokenizer-no-vocab": /no vocabulary \(tokenizer.ggml.model is 'no_vocab'\)/,
  "experts-used-over-count": /expert_used_count is 3, more than the 2 experts/,
  "experts-none-used": /2 experts .* uses none/,
  "experts-used-without-count": /expert_used_count is 2, more than the 0 experts/,
  "experts-count-huge": /expert_count is 2000 \(at most 1024/,
  "experts-groups": /expert_group_count is 4, not fewer than its 4 experts/,
  "nextn-over-layers": /nextn_predict_layers is 9, more than its 5 layers/,
};

test("structurally valid files that abort llama.cpp are refused with a reason; the probe-only ones pass", async () => {
  const crashing = engineCrashGgufs(source);
  const expected = [...crashing].filter(([, f]) => !f.probeOnly).map(([name]) => name);
  assert.deepEqual(expected.sort(), Object.keys(CRASH_REASONS).sort());
  for (const [name, { bytes, probeOnly }] of crashing) {
    const file = path.join(dir, `crash-${name}.gguf`);
    fs.writeFileSync(file, bytes);
    if (probeOnly) {
      // The header check does not know these; the load probe (load-probe.ts) is what stops them.
      await validateGgufHeader(file);
      continue;
    }
    await assert.rejects(
      validateGgufHeader(file),
      (err: unknown) => err instanceof GgufHeaderError && CRASH_REASONS[name]!.test(err.reason),
      name,
    );
  }
});

test("the bench models pass the vocabulary and expert checks", async () => {
  for (const file of ["bench-86M-q4_k_m.gguf", "bench-11M-q8_0.gguf"]) {
    const found = await modelPath(file).catch(() => null);
    if (found) await validateGgufHeader(found);
  }
});
