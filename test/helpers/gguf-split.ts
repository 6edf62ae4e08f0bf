/**
 * Splits a GGUF into `name-0000k-of-0000n.gguf` parts the way llama.cpp's gguf-split does (all
 * metadata in the first part, `split.no`/`split.count`/`split.tensors.count` in every part, each
 * part's tensors with offsets into its own data section), so tests get a real split model
 * without the gguf-split binary. Reads and writes with gguf-writer.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { GgufType, parseGguf, writeGguf, type GgufKv } from "./gguf-writer.js";

const pad = (n: number, align: number) => (align - (n % align)) % align;

function kv(
  key: string,
  type: number,
  write: (b: Buffer) => void,
  size: number,
): Pick<GgufKv, "key" | "type" | "value"> {
  const value = Buffer.alloc(size);
  write(value);
  return { key, type, value };
}

/** Writes `parts` files next to each other in `outDir`; returns their paths, first part first. */
export function splitGguf(source: string, outDir: string, baseName: string, parts: number): string[] {
  const g = parseGguf(fs.readFileSync(source));
  const byOffset = [...g.tensors].sort((a, b) => Number(a.offset - b.offset));
  const span = new Map<string, Buffer>();
  for (const [i, t] of byOffset.entries()) {
    const next = byOffset[i + 1];
    span.set(t.name, g.data.subarray(Number(t.offset), next ? Number(next.offset) : g.data.length));
  }
  const perPart = Math.ceil(g.tensors.length / parts);
  const files: string[] = [];
  fs.mkdirSync(outDir, { recursive: true });
  for (let p = 0; p < parts; p++) {
    const splitKvs = [
      kv("split.no", GgufType.UINT16, (b) => b.writeUInt16LE(p), 2),
      kv("split.count", GgufType.UINT16, (b) => b.writeUInt16LE(parts), 2),
      kv("split.tensors.count", GgufType.INT32, (b) => b.writeInt32LE(g.tensors.length), 4),
    ];
    const tensors = [];
    const data: Buffer[] = [];
    let offset = 0n;
    for (const t of g.tensors.slice(p * perPart, (p + 1) * perPart)) {
      tensors.push({ name: t.name, dims: t.dims, type: t.type, offset });
      const bytes = span.get(t.name)!;
      const padded = Buffer.concat([bytes, Buffer.alloc(pad(bytes.length, g.alignment))]);
      data.push(padded);
      offset += BigInt(padded.length);
    }
    const file = path.join(
      outDir,
      `${baseName}-${String(p + 1).padStart(5, "0")}-of-${String(parts).padStart(5, "0")}.gguf`,
    );
    const kvs = p === 0 ? [...g.kvs, ...splitKvs] : splitKvs;
    fs.writeFileSync(
      file,
      writeGguf({ version: g.version, kvs, tensors, data: Buffer.concat(data), alignment: g.alignment }),
    );
    files.push(file);
  }
  return files;
}
