/**
 * Splits a GGUF into `name-0000k-of-0000n.gguf` parts the way llama.cpp's gguf-split does (all
 * metadata in the first part, `split.no`/`split.count`/`split.tensors.count` in every part, each
 * part's tensors with offsets into its own data section), so tests get a real split model
 * without the gguf-split binary.
 */
import fs from "node:fs";
import path from "node:path";

const TYPE_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

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
    if (type === 8) this.str();
    else if (type === 9) {
      const inner = this.u32();
      const n = Number(this.u64());
      for (let i = 0; i < n; i++) this.skipValue(inner);
    } else {
      const size = TYPE_SIZE[type];
      if (size === undefined) throw new Error(`unknown GGUF value type ${type}`);
      this.pos += size;
    }
  }
}

const str = (s: string) => {
  const b = Buffer.from(s, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
};
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const i32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
const pad = (n: number, align: number) => (align - (n % align)) % align;

interface Tensor {
  name: string;
  dims: bigint[];
  type: number;
  offset: bigint;
}

/** Writes `parts` files next to each other in `outDir`; returns their paths, first part first. */
export function splitGguf(source: string, outDir: string, baseName: string, parts: number): string[] {
  const buf = fs.readFileSync(source);
  const r = new Reader(buf);
  if (buf.toString("latin1", 0, 4) !== "GGUF") throw new Error("not a GGUF");
  r.pos = 4;
  const version = r.u32();
  const tensorCount = Number(r.u64());
  const kvCount = Number(r.u64());
  const kvStart = r.pos;
  let alignment = 32;
  for (let i = 0; i < kvCount; i++) {
    const key = r.str();
    const type = r.u32();
    if (key === "general.alignment" && type === 4) alignment = buf.readUInt32LE(r.pos);
    r.skipValue(type);
  }
  const kvBytes = buf.subarray(kvStart, r.pos);
  const tensors: Tensor[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = r.str();
    const nDims = r.u32();
    const dims = Array.from({ length: nDims }, () => r.u64());
    tensors.push({ name, dims, type: r.u32(), offset: r.u64() });
  }
  const dataStart = r.pos + pad(r.pos, alignment);
  const byOffset = [...tensors].sort((a, b) => Number(a.offset - b.offset));
  const span = new Map<string, Buffer>();
  for (const [i, t] of byOffset.entries()) {
    const start = dataStart + Number(t.offset);
    const end = i + 1 < byOffset.length ? dataStart + Number(byOffset[i + 1]!.offset) : buf.length;
    span.set(t.name, buf.subarray(start, end));
  }
  const perPart = Math.ceil(tensors.length / parts);
  const files: string[] = [];
  fs.mkdirSync(outDir, { recursive: true });
  for (let p = 0; p < parts; p++) {
    const mine = tensors.slice(p * perPart, (p + 1) * perPart);
    const splitKvs = Buffer.concat([
      str("split.no"), u32(2), u16(p),
      str("split.count"), u32(2), u16(parts),
      str("split.tensors.count"), u32(5), i32(tensors.length),
    ]);
    const kvs = p === 0 ? Buffer.concat([kvBytes, splitKvs]) : splitKvs;
    const kvN = (p === 0 ? kvCount : 0) + 3;
    const infos: Buffer[] = [];
    const data: Buffer[] = [];
    let offset = 0n;
    for (const t of mine) {
      infos.push(str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(offset));
      const bytes = span.get(t.name)!;
      const padded = Buffer.concat([bytes, Buffer.alloc(pad(bytes.length, alignment))]);
      data.push(padded);
      offset += BigInt(padded.length);
    }
    const header = Buffer.concat([Buffer.from("GGUF", "latin1"), u32(version), u64(BigInt(mine.length)), u64(BigInt(kvN)), kvs, ...infos]);
    const file = path.join(outDir, `${baseName}-${String(p + 1).padStart(5, "0")}-of-${String(parts).padStart(5, "0")}.gguf`);
    fs.writeFileSync(file, Buffer.concat([header, Buffer.alloc(pad(header.length, alignment)), ...data]));
    files.push(file);
  }
  return files;
}
