/**
 * A small GGUF reader and writer for tests: parse a real file into its sections, change the
 * metadata (e.g. `tokenizer.chat_template`) and write it back with the tensor data untouched, or
 * cut and corrupt it at known offsets to build malformed files.
 *
 * Layout (GGUF v3): magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata
 * key/value pairs, the tensor infos (name, u32 dims, u64 shape..., u32 type, u64 offset), padding
 * to `general.alignment` (32 by default), then the tensor data.
 */

/** GGUF value types. */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** One metadata pair, its value kept as the exact bytes that follow the type field. */
export interface GgufKv {
  key: string;
  type: number;
  /** The encoded value (for arrays: inner type, count and elements). */
  value: Buffer;
  /** Offset of this pair's key in the source file. */
  offset: number;
}

export interface GgufTensorInfo {
  name: string;
  dims: bigint[];
  type: number;
  offset: bigint;
  /** Offset of this tensor info in the source file. */
  at: number;
}

export interface ParsedGguf {
  version: number;
  kvs: GgufKv[];
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Where each section starts in the source file. */
  offsets: { tensorCount: number; kvCount: number; kvs: number; tensorInfos: number; padding: number; data: number };
  /** The tensor data section (everything from `offsets.data`). */
  data: Buffer;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u32(): number {
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = Number(this.u64());
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  skipValue(type: number): void {
    if (type === GgufType.STRING) this.str();
    else if (type === GgufType.ARRAY) {
      const inner = this.u32();
      const n = Number(this.u64());
      if (inner !== GgufType.STRING && inner !== GgufType.ARRAY) this.pos += n * (SCALAR_SIZE[inner] ?? 0);
      else for (let i = 0; i < n; i++) this.skipValue(inner);
    } else {
      const size = SCALAR_SIZE[type];
      if (size === undefined) throw new Error(`unknown GGUF value type ${type}`);
      this.pos += size;
    }
  }
}

export function parseGguf(buf: Buffer): ParsedGguf {
  const r = new Reader(buf);
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error("not a GGUF file");
  r.pos = 4;
  const version = r.u32();
  const tensorCountAt = r.pos;
  const tensorCount = Number(r.u64());
  const kvCountAt = r.pos;
  const kvCount = Number(r.u64());
  const kvsAt = r.pos;
  const kvs: GgufKv[] = [];
  let alignment = 32;
  for (let i = 0; i < kvCount; i++) {
    const offset = r.pos;
    const key = r.str();
    const type = r.u32();
    const start = r.pos;
    r.skipValue(type);
    const value = buf.subarray(start, r.pos);
    if (key === "general.alignment" && type === GgufType.UINT32) alignment = value.readUInt32LE(0);
    kvs.push({ key, type, value, offset });
  }
  const tensorInfosAt = r.pos;
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const at = r.pos;
    const name = r.str();
    const nDims = r.u32();
    const dims: bigint[] = [];
    for (let d = 0; d < nDims; d++) dims.push(r.u64());
    const type = r.u32();
    const offset = r.u64();
    tensors.push({ name, dims, type, offset, at });
  }
  const paddingAt = r.pos;
  const dataAt = paddingAt + ((alignment - (paddingAt % alignment)) % alignment);
  return {
    version,
    kvs,
    tensors,
    alignment,
    offsets: {
      tensorCount: tensorCountAt,
      kvCount: kvCountAt,
      kvs: kvsAt,
      tensorInfos: tensorInfosAt,
      padding: paddingAt,
      data: dataAt,
    },
    data: buf.subarray(dataAt),
  };
}

export const encodeString = (s: string | Buffer): Buffer => {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
};
export const encodeU32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
export const encodeU64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
};

function encodeTensorInfo(t: Omit<GgufTensorInfo, "at">): Buffer {
  return Buffer.concat([
    encodeString(t.name),
    encodeU32(t.dims.length),
    ...t.dims.map(encodeU64),
    encodeU32(t.type),
    encodeU64(t.offset),
  ]);
}

/** Writes a GGUF from parts; counts default to the lengths of the lists. */
export function writeGguf(g: {
  version?: number;
  kvs: readonly Pick<GgufKv, "key" | "type" | "value">[];
  tensors: readonly Omit<GgufTensorInfo, "at">[];
  data: Buffer;
  alignment?: number;
  tensorCount?: bigint;
  kvCount?: bigint;
}): Buffer {
  const head = Buffer.concat([
    Buffer.from("GGUF", "latin1"),
    encodeU32(g.version ?? 3),
    encodeU64(g.tensorCount ?? BigInt(g.tensors.length)),
    encodeU64(g.kvCount ?? BigInt(g.kvs.length)),
    ...g.kvs.map((kv) => Buffer.concat([encodeString(kv.key), encodeU32(kv.type), kv.value])),
    ...g.tensors.map(encodeTensorInfo),
  ]);
  const alignment = g.alignment ?? 32;
  const padding = Buffer.alloc((alignment - (head.length % alignment)) % alignment);
  return Buffer.concat([head, padding, g.data]);
}

/** A string metadata value. */
export const stringKv = (key: string, value: string | Buffer): Pick<GgufKv, "key" | "type" | "value"> => ({
  key,
  type: GgufType.STRING,
  value: encodeString(value),
});

/** A copy of `source` with metadata `key` set to the string `value` (added when absent). */
export function withStringMetadata(source: Buffer, key: string, value: string | Buffer): Buffer {
  const g = parseGguf(source);
  const kvs = g.kvs.filter((kv) => kv.key !== key);
  kvs.push({ ...stringKv(key, value), offset: -1 });
  return writeGguf({ version: g.version, kvs, tensors: g.tensors, data: g.data, alignment: g.alignment });
}

/** A copy of `source` without metadata `key`. */
export function withoutMetadata(source: Buffer, key: string): Buffer {
  const g = parseGguf(source);
  return writeGguf({
    version: g.version,
    kvs: g.kvs.filter((kv) => kv.key !== key),
    tensors: g.tensors,
    data: g.data,
    alignment: g.alignment,
  });
}

/** The string value of metadata `key`, if the file has it. */
export function stringMetadata(source: Buffer, key: string): string | undefined {
  const kv = parseGguf(source).kvs.find((k) => k.key === key && k.type === GgufType.STRING);
  return kv ? kv.value.toString("utf8", 8) : undefined;
}

type KvPart = Pick<GgufKv, "key" | "type" | "value">;

/** A u32 metadata value. */
export const u32Kv = (key: string, value: number): KvPart => ({ key, type: GgufType.UINT32, value: encodeU32(value) });

/** A f32 metadata value. */
export const f32Kv = (key: string, value: number): KvPart => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(value);
  return { key, type: GgufType.FLOAT32, value: b };
};

/** A bool metadata value. */
export const boolKv = (key: string, value: boolean): KvPart => ({
  key,
  type: GgufType.BOOL,
  value: Buffer.from([value ? 1 : 0]),
});

/** An array of strings (e.g. `tokenizer.ggml.tokens`). */
export const stringArrayKv = (key: string, values: readonly (string | Buffer)[]): KvPart => ({
  key,
  type: GgufType.ARRAY,
  value: Buffer.concat([encodeU32(GgufType.STRING), encodeU64(BigInt(values.length)), ...values.map(encodeString)]),
});

/** An array of i32 or f32 numbers (e.g. `tokenizer.ggml.token_type`, `tokenizer.ggml.scores`). */
export const numberArrayKv = (key: string, itemType: "i32" | "f32", values: ArrayLike<number>): KvPart => {
  const body = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    if (itemType === "i32") body.writeInt32LE(values[i] ?? 0, i * 4);
    else body.writeFloatLE(values[i] ?? 0, i * 4);
  }
  const inner = itemType === "i32" ? GgufType.INT32 : GgufType.FLOAT32;
  return {
    key,
    type: GgufType.ARRAY,
    value: Buffer.concat([encodeU32(inner), encodeU64(BigInt(values.length)), body]),
  };
};
