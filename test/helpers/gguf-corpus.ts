/**
 * A corpus of malformed GGUF files made from a real one: wrong magic and versions, counts and
 * lengths far beyond the file, offsets past the end, sizes that overflow 64 bits, values of
 * unknown types, nesting deep enough to exhaust a recursive parser, and the file cut short at
 * every section boundary. Plus paths that are not files at all: a directory, a FIFO, a device
 * and a symlink loop.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { GgufType, encodeString, encodeU32, encodeU64, parseGguf, writeGguf, type ParsedGguf } from "./gguf-writer.js";

export interface CorpusFile {
  /** The file name (model id = name without .gguf). */
  name: string;
  /** What is wrong with it. */
  why: string;
}

const U64_MAX = (1n << 64n) - 1n;

function patch(source: Buffer, at: number, bytes: Buffer): Buffer {
  const out = Buffer.from(source);
  bytes.copy(out, at);
  return out;
}

/** Offset of the value of metadata `key` (just after its type field). */
function valueAt(g: ParsedGguf, key: string): number {
  const kv = g.kvs.find((k) => k.key === key);
  if (!kv) throw new Error(`no ${key}`);
  return kv.offset + 8 + Buffer.byteLength(kv.key) + 4;
}

/** The malformed files as name -> bytes, made from `source` (a valid GGUF). */
export function malformedGgufs(source: Buffer): Map<string, { bytes: Buffer; why: string }> {
  const g = parseGguf(source);
  const files = new Map<string, { bytes: Buffer; why: string }>();
  const add = (name: string, why: string, bytes: Buffer) => files.set(name, { bytes, why });
  const rewrite = (extra: Partial<Parameters<typeof writeGguf>[0]>) =>
    writeGguf({ version: g.version, kvs: g.kvs, tensors: g.tensors, data: g.data, alignment: g.alignment, ...extra });

  add("wrong-magic", "wrong magic", patch(source, 0, Buffer.from("GGUX")));
  add("version-0", "version 0", patch(source, 4, encodeU32(0)));
  add("version-huge", "an unknown version", patch(source, 4, encodeU32(0xffffffff)));
  add("tensor-count-huge", "2^64-1 tensors", patch(source, g.offsets.tensorCount, encodeU64(U64_MAX)));
  add(
    "tensor-count-plus-one",
    "one tensor more than written",
    patch(source, g.offsets.tensorCount, encodeU64(BigInt(g.tensors.length + 1))),
  );
  add("kv-count-huge", "2^64-1 metadata entries", patch(source, g.offsets.kvCount, encodeU64(U64_MAX)));
  add("kv-count-2-63", "2^63 metadata entries", patch(source, g.offsets.kvCount, encodeU64(1n << 63n)));
  add(
    "kv-count-plus-one",
    "one metadata entry more than written",
    patch(source, g.offsets.kvCount, encodeU64(BigInt(g.kvs.length + 1))),
  );
  add("key-length-huge", "a key 2^62 bytes long", patch(source, g.offsets.kvs, encodeU64(1n << 62n)));
  add(
    "key-length-past-end",
    "a key longer than the file",
    patch(source, g.offsets.kvs, encodeU64(BigInt(source.length))),
  );
  add(
    "string-length-huge",
    "a string value 2^40 bytes long",
    patch(source, valueAt(g, "general.architecture"), encodeU64(1n << 40n)),
  );
  const tokens = valueAt(g, "tokenizer.ggml.tokens");
  add("string-array-count-huge", "2^40 strings in the vocabulary", patch(source, tokens + 4, encodeU64(1n << 40n)));
  add(
    "float-array-count-huge",
    "2^60 scores",
    patch(source, valueAt(g, "tokenizer.ggml.scores") + 4, encodeU64(1n << 60n)),
  );
  add("array-type-unknown", "an array of an unknown type", patch(source, tokens, encodeU32(77)));
  add(
    "value-type-unknown",
    "a value of type 99",
    patch(source, g.kvs[0]!.offset + 8 + Buffer.byteLength(g.kvs[0]!.key), encodeU32(99)),
  );
  add(
    "value-type-negative",
    "a value of type 2^32-1",
    patch(source, g.kvs[0]!.offset + 8 + Buffer.byteLength(g.kvs[0]!.key), encodeU32(0xffffffff)),
  );

  // An array of arrays nested 100,000 deep: a recursive reader runs out of stack.
  const deep = Buffer.concat([encodeU32(GgufType.ARRAY), encodeU64(1n)]);
  const nested = Buffer.concat([
    ...Array.from({ length: 100_000 }, () => deep),
    encodeU32(GgufType.UINT8),
    encodeU64(0n),
  ]);
  add(
    "nested-arrays-deep",
    "arrays nested 100,000 deep",
    rewrite({ kvs: [...g.kvs, { key: "x.deep", type: GgufType.ARRAY, value: nested }] }),
  );
  add(
    "alignment-zero",
    "general.alignment = 0",
    rewrite({ kvs: [...g.kvs, { key: "general.alignment", type: GgufType.UINT32, value: encodeU32(0) }] }),
  );
  add(
    "alignment-huge",
    "general.alignment = 2^31",
    rewrite({ kvs: [...g.kvs, { key: "general.alignment", type: GgufType.UINT32, value: encodeU32(0x80000000) }] }),
  );
  add(
    "alignment-odd",
    "general.alignment = 3",
    rewrite({ kvs: [...g.kvs, { key: "general.alignment", type: GgufType.UINT32, value: encodeU32(3) }] }),
  );
  add(
    "architecture-not-string",
    "general.architecture is a number",
    rewrite({
      kvs: g.kvs.map((k) =>
        k.key === "general.architecture" ? { ...k, type: GgufType.UINT32, value: encodeU32(7) } : k,
      ),
    }),
  );
  add(
    "context-length-huge",
    "llama.context_length = 2^32-1",
    rewrite({ kvs: g.kvs.map((k) => (k.key === "llama.context_length" ? { ...k, value: encodeU32(0xffffffff) } : k)) }),
  );
  add(
    "block-count-huge",
    "llama.block_count = 2^32-1",
    rewrite({ kvs: g.kvs.map((k) => (k.key === "llama.block_count" ? { ...k, value: encodeU32(0xffffffff) } : k)) }),
  );
  add(
    "embedding-length-zero",
    "llama.embedding_length = 0",
    rewrite({ kvs: g.kvs.map((k) => (k.key === "llama.embedding_length" ? { ...k, value: encodeU32(0) } : k)) }),
  );
  add(
    "vocab-empty",
    "an empty vocabulary",
    rewrite({
      kvs: g.kvs.map((k) =>
        k.key === "tokenizer.ggml.tokens"
          ? { ...k, value: Buffer.concat([encodeU32(GgufType.STRING), encodeU64(0n)]) }
          : k,
      ),
    }),
  );
  add(
    "bos-token-out-of-range",
    "a BOS token id past the vocabulary",
    rewrite({
      kvs: g.kvs.map((k) => (k.key === "tokenizer.ggml.bos_token_id" ? { ...k, value: encodeU32(0x7fffffff) } : k)),
    }),
  );

  // Values llama.cpp asserts on (aborting the process) instead of refusing.
  const setU32 = (key: string, v: number) =>
    rewrite({ kvs: g.kvs.map((k) => (k.key === key ? { ...k, type: GgufType.UINT32, value: encodeU32(v) } : k)) });
  add("block-count-zero", "llama.block_count = 0", setU32("llama.block_count", 0));
  add("feed-forward-zero", "llama.feed_forward_length = 0 with FFN tensors", setU32("llama.feed_forward_length", 0));
  add(
    "head-count-zero",
    "llama.attention.head_count = 0 with attention tensors",
    setU32("llama.attention.head_count", 0),
  );
  add(
    "head-count-kv-zero",
    "llama.attention.head_count_kv = 0 with attention tensors",
    setU32("llama.attention.head_count_kv", 0),
  );
  const nan = Buffer.alloc(4);
  nan.writeFloatLE(NaN);
  add(
    "epsilon-nan",
    "a NaN normalization epsilon",
    rewrite({ kvs: g.kvs.map((k) => (k.key.endsWith("epsilon") ? { ...k, value: nan } : k)) }),
  );
  // Headers that read fine, and that llama.cpp itself refuses.
  add(
    "architecture-unknown",
    "an architecture llama.cpp does not know",
    rewrite({
      kvs: g.kvs.map((k) => (k.key === "general.architecture" ? { ...k, value: encodeString("no-such-arch") } : k)),
    }),
  );
  add(
    "tensor-shape-swapped",
    "a tensor whose shape does not match the model",
    rewrite({ tensors: g.tensors.map((t, i) => (i === 0 ? { ...t, dims: [...t.dims].reverse() } : t)) }),
  );

  const t0 = g.tensors[0]!;
  const tensors = (change: (t: (typeof g.tensors)[number], i: number) => (typeof g.tensors)[number]) =>
    rewrite({ tensors: g.tensors.map(change) });
  add(
    "tensor-offset-past-end",
    "a tensor's data starts past the end of the file",
    tensors((t, i) => (i === 0 ? { ...t, offset: BigInt(source.length) * 4n } : t)),
  );
  add(
    "tensor-offset-huge",
    "a tensor offset of 2^64-32",
    tensors((t, i) => (i === 0 ? { ...t, offset: U64_MAX - 31n } : t)),
  );
  add(
    "tensor-offset-unaligned",
    "a tensor offset that is not aligned",
    tensors((t, i) => (i === 0 ? { ...t, offset: t.offset + 1n } : t)),
  );
  add(
    "tensor-dims-overflow",
    "a tensor whose element count overflows 64 bits",
    tensors((t, i) => (i === 0 ? { ...t, dims: [1n << 62n, 1n << 62n] } : t)),
  );
  add(
    "tensor-dims-zero",
    "a tensor with a zero dimension",
    tensors((t, i) => (i === 0 ? { ...t, dims: t.dims.map(() => 0n) } : t)),
  );
  add(
    "tensor-dims-too-many",
    "a tensor with 5 dimensions",
    tensors((t, i) => (i === 0 ? { ...t, dims: [...t.dims, 1n, 1n, 1n, 1n].slice(0, 5) } : t)),
  );
  add(
    "tensor-size-past-end",
    "a tensor larger than the file",
    tensors((t, i) =>
      i === g.tensors.length - 1 ? { ...t, dims: t.dims.map((d, j) => (j === 0 ? d * 1024n : d)) } : t,
    ),
  );
  add(
    "tensor-type-unknown",
    "a tensor of type 999",
    tensors((t, i) => (i === 0 ? { ...t, type: 999 } : t)),
  );
  add(
    "tensor-duplicate-name",
    "two tensors with the same name",
    tensors((t, i) => (i === 1 ? { ...t, name: t0.name } : t)),
  );
  add("tensor-name-huge", "a tensor name 2^40 bytes long", patch(source, t0.at, encodeU64(1n << 40n)));
  add(
    "tensor-n-dims-huge",
    "a tensor with 2^31 dimensions",
    patch(source, t0.at + 8 + Buffer.byteLength(t0.name), encodeU32(0x80000000)),
  );

  // Cut short at (and one byte into) every section and every metadata entry and tensor info.
  const cuts = new Set<number>([0, 2, 4, 6, 8, 12, 16, 20, 24]);
  for (const kv of g.kvs)
    [kv.offset, kv.offset + 5, kv.offset + 8 + Buffer.byteLength(kv.key) + 2].forEach((c) => cuts.add(c));
  for (const t of g.tensors) [t.at, t.at + 9].forEach((c) => cuts.add(c));
  [g.offsets.padding, g.offsets.padding + 1, g.offsets.data, g.offsets.data + 1].forEach((c) => cuts.add(c));
  for (const at of [...cuts].sort((a, b) => a - b))
    if (at < source.length)
      add(`cut-at-${String(at).padStart(6, "0")}`, `cut short at byte ${at}`, source.subarray(0, at));
  add(
    "cut-mid-data",
    "cut short in the middle of the tensor data",
    source.subarray(0, g.offsets.data + Math.floor(g.data.length / 2)),
  );
  add(
    "trailing-garbage-header",
    "a valid magic followed by random bytes",
    Buffer.concat([Buffer.from("GGUF"), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) & 0xff))]),
  );
  add(
    "string-invalid-utf8",
    "a key of invalid UTF-8",
    rewrite({
      kvs: [...g.kvs, { key: "x", type: GgufType.STRING, value: encodeString(Buffer.from([0xff, 0xfe, 0xc3])) }],
    }),
  );
  return files;
}

/** Paths that are not regular files, made in `dir`: a directory, a FIFO, a device link and a symlink loop. Returns name -> why. */
export function specialPaths(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  fs.mkdirSync(path.join(dir, "a-directory.gguf"));
  out.set("a-directory.gguf", "a directory");
  fs.symlinkSync("/dev/zero", path.join(dir, "dev-zero.gguf"));
  out.set("dev-zero.gguf", "a link to /dev/zero");
  fs.symlinkSync("loop-b.gguf", path.join(dir, "loop-a.gguf"));
  fs.symlinkSync("loop-a.gguf", path.join(dir, "loop-b.gguf"));
  out.set("loop-a.gguf", "a symlink loop");
  fs.symlinkSync("nowhere.gguf", path.join(dir, "dangling.gguf"));
  out.set("dangling.gguf", "a dangling symlink");
  if (process.platform !== "win32") {
    execFileSync("mkfifo", [path.join(dir, "a-fifo.gguf")]);
    out.set("a-fifo.gguf", "a FIFO nobody writes to");
    fs.symlinkSync("a-fifo.gguf", path.join(dir, "fifo-link.gguf"));
    out.set("fifo-link.gguf", "a link to a FIFO");
  }
  return out;
}

export interface CrashingGguf {
  bytes: Buffer;
  why: string;
  /**
   * True for files the TypeScript header check does not know about: only the load probe (a
   * child process that loads the file and evaluates a prompt) finds that they crash.
   */
  probeOnly: boolean;
}

/**
 * Files made from `source` (stories260K.gguf or another llama-architecture GGUF with a
 * SentencePiece vocabulary) that are structurally valid GGUF and crash the process inside
 * llama.cpp (SIGABRT, or SIGSEGV) when loaded or first evaluated: each was measured to do so with
 * node-llama-cpp 3.22.1's llama.cpp.
 */
export function engineCrashGgufs(source: Buffer): Map<string, CrashingGguf> {
  const g = parseGguf(source);
  const files = new Map<string, CrashingGguf>();
  const arch = "llama";
  type Kvs = Parameters<typeof writeGguf>[0]["kvs"];
  const write = (kvs: Kvs, tensors = g.tensors) =>
    writeGguf({ version: g.version, kvs, tensors, data: g.data, alignment: g.alignment });
  const add = (name: string, why: string, bytes: Buffer, probeOnly = false) =>
    files.set(name, { bytes, why, probeOnly });
  const u32 = (key: string, v: number) => ({ key, type: GgufType.UINT32, value: encodeU32(v) });
  const withU32 = (...pairs: [string, number][]) =>
    write([...g.kvs.filter((k) => !pairs.some(([key]) => key === k.key)), ...pairs.map(([k, v]) => u32(k, v))]);
  const withString = (key: string, v: string) =>
    write(g.kvs.map((k) => (k.key === key ? { ...k, value: encodeString(v) } : k)));

  const tokensKv = g.kvs.find((k) => k.key === "tokenizer.ggml.tokens")!.value;
  const tokens: string[] = [];
  for (let i = 0, p = 12, n = Number(tokensKv.readBigUInt64LE(4)); i < n; i++) {
    const len = Number(tokensKv.readBigUInt64LE(p));
    tokens.push(tokensKv.toString("latin1", p + 8, p + 8 + len));
    p += 8 + len;
  }
  const withTokens = (change: (t: string, i: number) => string, kvs = g.kvs) =>
    kvs.map((k) =>
      k.key === "tokenizer.ggml.tokens"
        ? {
            ...k,
            value: Buffer.concat([
              encodeU32(GgufType.STRING),
              encodeU64(BigInt(tokens.length)),
              ...tokens.map((t, i) => encodeString(Buffer.from(change(t, i), "latin1"))),
            ]),
          }
        : k,
    );
  const newline = tokens.indexOf("<0x0A>");
  const normal = tokens.findIndex((t, i) => i > newline && !/^<.*>$/.test(t));

  add(
    "vocab-duplicate-token",
    "the same token twice in the vocabulary",
    write(withTokens((t, i) => (i === normal ? tokens[normal + 1]! : t))),
  );
  add(
    "vocab-empty-token-collides",
    "an empty token whose stand-in name llama.cpp gives it is another token",
    write(withTokens((t, i) => (i === normal ? "" : i === normal + 1 ? `[EMPTY_${normal}]` : t))),
  );
  add(
    "vocab-empty-byte-token",
    "the newline byte token <0x0A> left empty",
    write(withTokens((t, i) => (i === newline ? "" : t))),
  );
  add(
    "vocab-no-byte-tokens",
    "a SentencePiece vocabulary without its byte-fallback tokens",
    write(withTokens((t) => (/^<0x[0-9A-F]{2}>$/.test(t) ? `<x${t.slice(3)}` : t))),
  );
  add(
    "vocab-missing-byte-token",
    "a SentencePiece vocabulary without the byte token <0xF0> (loads, then the first emoji crashes)",
    write(withTokens((t) => (t === "<0xF0>" ? "<xF0>" : t))),
  );
  add(
    "tokenizer-bert",
    "tokenizer.ggml.model = bert on a decoder with byte tokens",
    withString("tokenizer.ggml.model", "bert"),
  );
  add("tokenizer-no-vocab", "tokenizer.ggml.model = no_vocab", withString("tokenizer.ggml.model", "no_vocab"));
  add(
    "experts-used-over-count",
    "2 experts, 3 used per token",
    withU32([`${arch}.expert_count`, 2], [`${arch}.expert_used_count`, 3]),
  );
  add(
    "experts-none-used",
    "2 experts, none used per token",
    withU32([`${arch}.expert_count`, 2], [`${arch}.expert_used_count`, 0]),
  );
  add(
    "experts-used-without-count",
    "2 experts used per token, no expert count",
    withU32([`${arch}.expert_used_count`, 2]),
  );
  add("experts-count-huge", "2000 experts", withU32([`${arch}.expert_count`, 2000], [`${arch}.expert_used_count`, 2]));
  add(
    "experts-groups",
    "as many expert groups as experts",
    withU32([`${arch}.expert_count`, 4], [`${arch}.expert_used_count`, 2], [`${arch}.expert_group_count`, 4]),
  );
  add(
    "nextn-over-layers",
    "more next-token prediction layers than layers",
    withU32([`${arch}.nextn_predict_layers`, 9]),
  );

  // Tensors of a type the operation that reads them has no kernel for: llama.cpp loads the file,
  // then ggml aborts (or reads out of bounds) in the first evaluation. I32 is 4 bytes like F32, so
  // the file's layout is unchanged; knowing which operation accepts which type is ggml's business.
  const retype = (name: string) =>
    write(
      g.kvs,
      g.tensors.map((t) => (t.name === name ? { ...t, type: 26 } : t)),
    );
  add(
    "tensor-type-unsupported",
    "output_norm.weight stored as I32 (ggml aborts in the first evaluation)",
    retype("output_norm.weight"),
    true,
  );
  add(
    "tensor-type-segfault",
    "blk.0.attn_q.weight stored as I32 (SIGSEGV in the first evaluation)",
    retype("blk.0.attn_q.weight"),
    true,
  );
  return files;
}
