/**
 * A structural check of a GGUF file's header in TypeScript, run before any other reader sees the
 * file. node-llama-cpp's header reader trusts the counts it reads: a float array claiming 2^60
 * elements or a tensor claiming 2^31 dimensions kept it busy for good (measured: the library scan
 * never finished, so no model could be used), and llama.cpp's native loader aborts the whole
 * process (GGML_ASSERT) on some values, e.g. `block_count = 0` or an empty vocabulary. Every count
 * and length here is checked against the bytes that are actually left, with nothing allocated
 * from a count before that check.
 *
 * Limits follow llama.cpp's own reader (gguf.cpp): versions 2 and 3, no nested arrays, tensor
 * names under 64 bytes, at most 4 dimensions, a power-of-two alignment.
 */
import fs from "node:fs/promises";
import { GgmlType } from "node-llama-cpp";

const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;
/** GGML_MAX_NAME: llama.cpp refuses longer tensor names. */
const MAX_TENSOR_NAME = 64;
/** GGML_MAX_DIMS. */
const MAX_DIMS = 4;
/** LLAMA_MAX_LAYERS: llama.cpp asserts 0 < block_count <= this, aborting the process otherwise. */
const MAX_LAYERS = 512;
const MAX_KEY = 65_535;
const MAX_ALIGNMENT = 1 << 20;
const INT64_MAX = (1n << 63n) - 1n;

/** Why a header is unusable, in words for the model list. */
export class GgufHeaderError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "GgufHeaderError";
  }
}

/** Reads a file front to back through a buffer, refusing to read past its end. */
class Cursor {
  pos = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fh: fs.FileHandle,
    readonly size: number,
  ) {}

  get left(): number {
    return this.size - this.pos;
  }

  private async ensure(n: number, what: string): Promise<void> {
    if (n > this.left) throw new GgufHeaderError(`The file is truncated: it ends inside ${what}.`);
    if (this.pos + n <= this.bufStart + this.buf.length) return;
    const want = Math.max(n, 1 << 20);
    const chunk = Buffer.alloc(Math.min(want, this.left));
    const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, this.pos);
    if (bytesRead < n) throw new GgufHeaderError(`The file is truncated: it ends inside ${what}.`);
    this.buf = chunk.subarray(0, bytesRead);
    this.bufStart = this.pos;
  }

  async u32(what: string): Promise<number> {
    await this.ensure(4, what);
    const v = this.buf.readUInt32LE(this.pos - this.bufStart);
    this.pos += 4;
    return v;
  }

  async u64(what: string): Promise<bigint> {
    await this.ensure(8, what);
    const v = this.buf.readBigUInt64LE(this.pos - this.bufStart);
    this.pos += 8;
    return v;
  }

  async bytes(n: number, what: string): Promise<Buffer> {
    await this.ensure(n, what);
    const out = Buffer.from(this.buf.subarray(this.pos - this.bufStart, this.pos - this.bufStart + n));
    this.pos += n;
    return out;
  }

  /** A length-prefixed string, its length checked against what is left. */
  async string(what: string, max = Infinity): Promise<string> {
    const n = await this.u64(what);
    if (n > BigInt(this.left))
      throw new GgufHeaderError(
        `The file is truncated or damaged: ${what} claims ${n} bytes, more than the file has left.`,
      );
    if (Number.isFinite(max) && n > BigInt(max))
      throw new GgufHeaderError(`Not a valid GGUF file: ${what} is ${n} bytes long (at most ${max}).`);
    return (await this.bytes(Number(n), what)).toString("utf8");
  }

  async skip(n: number, what: string): Promise<void> {
    if (n > this.left) throw new GgufHeaderError(`The file is truncated: it ends inside ${what}.`);
    this.pos += n;
  }
}

interface Header {
  alignment: number;
  values: Map<string, bigint | number | string>;
  /** Small numeric arrays (per-layer values such as `expert_used_count`), by key. */
  arrays: Map<string, number[]>;
  /** `tokenizer.ggml.tokens`, each token's bytes as a latin1 string (one char per byte, so distinct bytes stay distinct). */
  tokens: string[] | null;
  /** `tokenizer.ggml.token_type`, when it is an int32 array (the only type llama.cpp reads). */
  tokenTypes: Int32Array | null;
}

const TOKENS = "tokenizer.ggml.tokens";
const TOKEN_TYPES = "tokenizer.ggml.token_type";
/** llama.cpp's token type for a byte-fallback token (LLAMA_TOKEN_TYPE_BYTE). */
const TOKEN_TYPE_BYTE = 6;
/** Numeric arrays up to this length are kept for the checks (one value per layer at most). */
const KEEP_ARRAY = MAX_LAYERS;

async function readValue(c: Cursor, type: number, key: string, header: Header): Promise<void> {
  const what = `the value of '${key}'`;
  if (type === STRING) {
    header.values.set(key, await c.string(what));
    return;
  }
  if (type === ARRAY) {
    const inner = await c.u32(what);
    const count = await c.u64(what);
    if (inner === ARRAY)
      throw new GgufHeaderError(
        `Not a valid GGUF file: '${key}' is an array of arrays, which GGUF readers do not support.`,
      );
    const size = inner === STRING ? 8 : SCALAR_SIZE[inner];
    if (size === undefined)
      throw new GgufHeaderError(`Not a valid GGUF file: '${key}' is an array of unknown type ${inner}.`);
    // Each element takes at least `size` bytes: a count beyond what is left is a lie, refused before any loop.
    if (count * BigInt(size) > BigInt(c.left))
      throw new GgufHeaderError(
        `The file is truncated or damaged: '${key}' claims ${count} elements, more than the file holds.`,
      );
    header.values.set(`${key}#count`, count);
    if (inner !== STRING) {
      if (key === TOKEN_TYPES && inner === 5) {
        const raw = await c.bytes(Number(count) * 4, what);
        header.tokenTypes = new Int32Array(Number(count));
        for (let i = 0; i < header.tokenTypes.length; i++) header.tokenTypes[i] = raw.readInt32LE(i * 4);
        return;
      }
      if (count <= BigInt(KEEP_ARRAY) && size <= 8 && inner !== 7) {
        const raw = await c.bytes(Number(count) * size, what);
        header.arrays.set(
          key,
          Array.from({ length: Number(count) }, (_, i) => Number(scalarOf(inner, raw.subarray(i * size)))),
        );
        return;
      }
      return c.skip(Number(count) * size, what);
    }
    const keep: string[] | null = key === TOKENS ? [] : null;
    if (keep) header.tokens = keep;
    for (let i = 0n; i < count; i++) {
      const n = await c.u64(what);
      if (n > BigInt(c.left))
        throw new GgufHeaderError(
          `The file is truncated or damaged: a string in '${key}' claims ${n} bytes, more than the file has left.`,
        );
      if (keep) keep.push((await c.bytes(Number(n), what)).toString("latin1"));
      else await c.skip(Number(n), what);
    }
    return;
  }
  const size = SCALAR_SIZE[type];
  if (size === undefined) throw new GgufHeaderError(`Not a valid GGUF file: '${key}' has unknown value type ${type}.`);
  const value = scalarOf(type, await c.bytes(size, what));
  if (value !== null) header.values.set(key, value);
}

/** The numeric value of a scalar of GGUF type `type` at the start of `raw`; null for booleans. */
function scalarOf(type: number, raw: Buffer): number | bigint | null {
  switch (type) {
    case 0:
      return raw.readUInt8(0);
    case 1:
      return raw.readInt8(0);
    case 2:
      return raw.readUInt16LE(0);
    case 3:
      return raw.readInt16LE(0);
    case 4:
      return raw.readUInt32LE(0);
    case 5:
      return raw.readInt32LE(0);
    case 6:
      return raw.readFloatLE(0);
    case 10:
      return raw.readBigUInt64LE(0);
    case 11:
      return raw.readBigInt64LE(0);
    case 12:
      return raw.readDoubleLE(0);
    default:
      return null;
  }
}

/**
 * Checks the header of one GGUF file (one part of a split model). Throws GgufHeaderError with a
 * reason a person can read; resolves when the header is structurally sound.
 */
export async function validateGgufHeader(file: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new GgufHeaderError("The path is a loop of symbolic links.");
    if (code === "ENOENT") throw new GgufHeaderError(`File not found: ${file}.`);
    throw new GgufHeaderError(`The file cannot be read: ${(err as Error).message}`);
  }
  // Opening a FIFO blocks until a writer comes; a device like /dev/zero never ends.
  if (!stat.isFile()) {
    const kind = stat.isDirectory()
      ? "a directory"
      : stat.isFIFO()
        ? "a FIFO"
        : stat.isCharacterDevice() || stat.isBlockDevice()
          ? "a device"
          : stat.isSocket()
            ? "a socket"
            : "not a regular file";
    throw new GgufHeaderError(`Not a model file: the path is ${kind}.`);
  }
  if (stat.size < 24) throw new GgufHeaderError("Not a GGUF file: it is too small to hold a GGUF header.");
  const fh = await fs.open(file, "r");
  try {
    const c = new Cursor(fh, stat.size);
    if ((await c.bytes(4, "the signature")).toString("latin1") !== "GGUF")
      throw new GgufHeaderError("Not a GGUF file (the file does not start with the GGUF signature).");
    const version = await c.u32("the version");
    if (version !== 2 && version !== 3)
      throw new GgufHeaderError(`GGUF version ${version} is not supported (only versions 2 and 3 are).`);
    const tensorCount = await c.u64("the tensor count");
    const kvCount = await c.u64("the metadata count");
    // Smallest possible entries: a key of 0 bytes with a 1-byte value (13 bytes); a tensor with 1 dimension (32 bytes).
    if (kvCount * 13n > BigInt(c.left))
      throw new GgufHeaderError(
        `The file is truncated or damaged: it claims ${kvCount} metadata entries, more than the file holds.`,
      );
    if (tensorCount * 32n > BigInt(c.left))
      throw new GgufHeaderError(
        `The file is truncated or damaged: it claims ${tensorCount} tensors, more than the file holds.`,
      );
    const header: Header = { alignment: 32, values: new Map(), arrays: new Map(), tokens: null, tokenTypes: null };
    for (let i = 0n; i < kvCount; i++) {
      const key = await c.string("a metadata key", MAX_KEY);
      const type = await c.u32(`the type of '${key}'`);
      if (header.values.has(key))
        throw new GgufHeaderError(`Not a valid GGUF file: the metadata key '${key}' appears twice.`);
      await readValue(c, type, key, header);
      if (key === "general.alignment") {
        const a = header.values.get(key);
        if (typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0 || a > MAX_ALIGNMENT) {
          throw new GgufHeaderError(
            `Not a valid GGUF file: general.alignment is ${String(a)}, not a power of two up to ${MAX_ALIGNMENT}.`,
          );
        }
        header.alignment = a;
      }
    }
    const names = new Set<string>();
    for (let i = 0n; i < tensorCount; i++) {
      const name = await c.string("a tensor name", MAX_TENSOR_NAME - 1);
      if (names.has(name)) throw new GgufHeaderError(`Not a valid GGUF file: the tensor '${name}' appears twice.`);
      names.add(name);
      const dims = await c.u32(`the dimensions of tensor '${name}'`);
      if (dims < 1 || dims > MAX_DIMS)
        throw new GgufHeaderError(
          `Not a valid GGUF file: tensor '${name}' has ${dims} dimensions (1 to ${MAX_DIMS} are possible).`,
        );
      let elements = 1n;
      for (let d = 0; d < dims; d++) {
        const n = await c.u64(`the shape of tensor '${name}'`);
        elements *= n;
        if (n > INT64_MAX || elements > INT64_MAX)
          throw new GgufHeaderError(`Not a valid GGUF file: the size of tensor '${name}' overflows.`);
      }
      const type = await c.u32(`the type of tensor '${name}'`);
      if (typeof GgmlType[type] !== "string")
        throw new GgufHeaderError(`Not a valid GGUF file: tensor '${name}' has unknown type ${type}.`);
      const offset = await c.u64(`the offset of tensor '${name}'`);
      if (offset % BigInt(header.alignment) !== 0n)
        throw new GgufHeaderError(`Not a valid GGUF file: tensor '${name}' starts at an unaligned offset.`);
    }
    // Whether each tensor's data is all there is checked after this (gguf-info.ts checkComplete), per part.
    checkKnownCrashes(header, names);
  } finally {
    await fh.close();
  }
}

/**
 * Values llama.cpp does not check before asserting on them, which aborts the process (measured
 * with llama.cpp of node-llama-cpp 3.22.1): a layer count outside 1..512, an empty vocabulary,
 * a NaN or negative normalization epsilon, and zero heads or feed-forward width in a model that has attention or feed-forward tensors
 * (the expected tensor shapes then have a zero dimension). Models without such tensors (Mamba
 * and other state-space models write 0 there) are left alone. Then the expert counts and the
 * vocabulary (checkExperts, checkVocabulary). Whatever this misses, the load probe
 * (load-probe.ts) catches in a child process before the server loads the file itself.
 */
function checkKnownCrashes(header: Header, tensors: ReadonlySet<string>): void {
  const arch = header.values.get("general.architecture");
  if (typeof arch !== "string") return;
  const layers = intValue(header.values.get(`${arch}.block_count`));
  if (layers !== undefined && (layers < 1n || layers > BigInt(MAX_LAYERS))) {
    throw new GgufHeaderError(
      `Not a usable model: ${arch}.block_count is ${String(layers)} (1 to ${MAX_LAYERS} layers are possible).`,
    );
  }
  if (header.values.get("tokenizer.ggml.tokens#count") === 0n)
    throw new GgufHeaderError("Not a usable model: its vocabulary is empty.");
  const has = (suffix: string) => [...tensors].some((t) => t.endsWith(suffix));
  const zero = (key: string) => {
    const v = header.values.get(`${arch}.${key}`);
    return (typeof v === "number" || typeof v === "bigint") && BigInt(v) === 0n;
  };
  const needs: [string, boolean][] = [
    ["embedding_length", tensors.size > 0],
    ["attention.head_count", has(".attn_q.weight") || has(".attn_qkv.weight")],
    ["attention.head_count_kv", has(".attn_k.weight") || has(".attn_qkv.weight")],
    ["feed_forward_length", has(".ffn_up.weight") || has(".ffn_down.weight")],
  ];
  for (const [key, used] of needs) {
    if (used && zero(key))
      throw new GgufHeaderError(`Not a usable model: ${arch}.${key} is 0, but the model has tensors that need it.`);
  }
  // A NaN or negative epsilon passes loading and then aborts in the first normalization (GGML_ASSERT(eps >= 0.0f)).
  for (const [key, v] of header.values) {
    if (
      key.startsWith(`${arch}.`) &&
      key.endsWith("epsilon") &&
      typeof v === "number" &&
      !(Number.isFinite(v) && v >= 0)
    ) {
      throw new GgufHeaderError(`Not a usable model: ${key} is ${v}.`);
    }
  }
  checkExperts(header, arch, layers ?? 0n);
  checkVocabulary(header);
}

/** An integer metadata value as a bigint; undefined when absent or not an integer (llama.cpp refuses those itself). */
function intValue(v: bigint | number | string | undefined): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

/** LLAMA_MAX_EXPERTS. */
const MAX_EXPERTS = 1024n;

/**
 * llama.cpp's load_hparams asserts on the mixture-of-experts counts of every architecture
 * (llama-model.cpp): at most 1024 experts, no more used per token than there are, at least one
 * used when there are experts and none when there are not, fewer expert groups than experts (a
 * whole number of experts per group, and fewer used groups than groups), and no more next-token
 * prediction layers than layers. Each of these aborted the process when a file got it wrong.
 */
function checkExperts(header: Header, arch: string, layers: bigint): void {
  const key = (k: string) => `${arch}.${k}`;
  const int = (k: string) => intValue(header.values.get(key(k))) ?? 0n;
  const experts = int("expert_count");
  const perLayer = header.arrays.get(key("expert_used_count"));
  const used = perLayer ? perLayer.reduce((m, v) => (BigInt(v) > m ? BigInt(v) : m), 0n) : int("expert_used_count");
  const groups = int("expert_group_count");
  const groupsUsed = int("expert_group_used_count");
  const bad = (why: string) => {
    throw new GgufHeaderError(`Not a usable model: ${why}.`);
  };
  if (experts > MAX_EXPERTS) bad(`${key("expert_count")} is ${experts} (at most ${MAX_EXPERTS} experts are possible)`);
  if (used > experts)
    bad(`${key("expert_used_count")} is ${used}, more than the ${experts} experts ${key("expert_count")} gives`);
  if (experts > 0n) {
    if (used === 0n) bad(`it has ${experts} experts (${key("expert_count")}) but uses none per token`);
    if (groups >= experts) bad(`${key("expert_group_count")} is ${groups}, not fewer than its ${experts} experts`);
    if (groups > 1n && (experts % groups !== 0n || groupsUsed < 1n || groupsUsed >= groups))
      bad(`its ${groups} expert groups do not fit its ${experts} experts and ${groupsUsed} used groups`);
  } else if (groups > 0n) bad(`it has ${groups} expert groups but no experts`);
  const nextn = int("nextn_predict_layers");
  if (layers > 0n && nextn > layers) bad(`${key("nextn_predict_layers")} is ${nextn}, more than its ${layers} layers`);
}

/** The token llama.cpp looks up for a byte in a SentencePiece vocabulary: `<0x0A>`, else the byte itself. */
const byteToken = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;

/**
 * Vocabularies llama.cpp cannot hold (measured; each aborted the process): the same token twice
 * (GGML_ASSERT on the token map's size; an empty token counts as `[EMPTY_<id>]`, the name
 * llama.cpp gives it); a SentencePiece (`llama`) vocabulary without a byte token for each of the
 * 256 bytes (text outside the vocabulary is spelled in bytes, and a missing one throws an uncaught
 * std::out_of_range: at load for `\n`, at the first such request for the others); byte tokens in a
 * WordPiece (`bert`) vocabulary (llama.cpp has no byte reading for it: GGML_ABORT); and no
 * vocabulary at all (`no_vocab`), which no text model can run with.
 */
function checkVocabulary(header: Header): void {
  const model = header.values.get("tokenizer.ggml.model");
  if (model === "no_vocab" || model === "none")
    throw new GgufHeaderError(
      `Not a usable model: it has no vocabulary (tokenizer.ggml.model is '${model}'), so it cannot read or write text.`,
    );
  const tokens = header.tokens;
  if (!tokens) return;
  const ids = new Map<string, number>();
  for (const [i, raw] of tokens.entries()) {
    const token = raw === "" ? `[EMPTY_${i}]` : raw;
    const first = ids.get(token);
    if (first !== undefined)
      throw new GgufHeaderError(
        `Not a usable model: its vocabulary has the token '${printable(token)}' twice (ids ${first} and ${i}).`,
      );
    ids.set(token, i);
  }
  if (model === "llama") {
    for (let b = 0; b < 256; b++) {
      if (!ids.has(byteToken(b)) && !ids.has(String.fromCharCode(b)))
        throw new GgufHeaderError(
          `Not a usable model: its vocabulary has no byte token ${byteToken(b)}, which llama.cpp needs to spell text the vocabulary does not cover.`,
        );
    }
  }
  if (model === "bert" && header.tokenTypes) {
    const at = header.tokenTypes.indexOf(TOKEN_TYPE_BYTE);
    if (at >= 0)
      throw new GgufHeaderError(
        `Not a usable model: its WordPiece ('bert') vocabulary has byte tokens (token ${at} has type ${TOKEN_TYPE_BYTE}), which llama.cpp cannot read.`,
      );
  }
}

/** A token as text for a message: its bytes read as UTF-8, control characters escaped (JSON), at most 40 characters. */
function printable(latin1: string): string {
  return JSON.stringify(Buffer.from(latin1, "latin1").toString("utf8")).slice(1, -1).slice(0, 40);
}
