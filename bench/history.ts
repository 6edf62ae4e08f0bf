/**
 * History benchmark: insert rate and search latency at 10k, 100k and 1M messages of generated
 * chat text (English-like words with a Zipf distribution, some code, some diacritics, some CJK),
 * from a seeded PRNG so every run indexes the same corpus. Quick mode stops at 10k. Then tokens/s
 * of /v1 streams through the real server with recording on and off.
 *
 *   npm run bench -- history            # full (about 5 minutes, 1.5 GB of temp disk)
 *   npm run bench -- --quick history    # 10k only
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import type { HearthServer } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { HistoryRecorder } from "../server/history/recorder.js";
import { HistoryStore } from "../server/history/store.js";
import type { ChatMessage, ChatRequest, GenerationStream } from "../server/core/types.js";
import { testModelPath } from "../test/helpers/models.js";
import type { BenchOptions, BenchResult } from "./types.js";
import { seededRandom } from "../server/util/seeded-random.js";

const WORDS = `the of and to a in is it you that he was for on are with as I his they be at one have this from or had by
word but what some we can out other were all there when up use your how said an each she which do their time if will way
about many then them write would like so these her long make thing see him two has look more day could go come did number
sound no most people my over know water than call first who may down side been now find any new work part take get place
made live where after back little only round man year came show every good me give our under name very through just form
sentence great think say help low line differ turn cause much mean before move right boy old too same tell does set three
want air well also play small end put home read hand port large spell add even land here must big high such follow act why
ask men change went light kind off need house picture try us again animal point mother world near build self earth father
model memory context window token prompt server request response stream batch queue thread process error warning config
database index query search result cache latency throughput kubernetes docker container deploy cluster node pod service
python javascript typescript function class method variable array object string number boolean return import export async
await promise callback event listener handler router middleware express react component state props hook render effect
sqlite postgres table column schema migration transaction commit rollback backup restore replica shard partition vector
embedding neural network training inference gradient tensor layer attention transformer decoder encoder weight bias loss
recipe garden weather travel music movie book story history science physics chemistry biology ocean mountain river forest
coffee dinner breakfast lunch market price budget invoice meeting schedule calendar deadline project manager team review`
  .split(/\s+/u)
  .filter(Boolean);
const DIACRITICS = [
  "café",
  "Zürich",
  "naïve",
  "résumé",
  "Ångström",
  "São Paulo",
  "Kraków",
  "crème brûlée",
  "Électron",
  "façade",
  "jalapeño",
  "Dvořák",
];
// Characters for a CJK lexicon: kana and common kanji/hanzi.
const CJK_CHARS = [
  ..."あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼ",
  ..."アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダデドバビブベボー",
  ..."日本東京大阪京都中国語学習研究開発会社時間今明昨年月週天気雨雪風山川海空電車駅道路店食事料理水茶酒肉魚野菜果物家族友人先生学生仕事問題答案説明質問",
  ..."検索数据库模型会话网络服务器程序代码文件系统设计测试部署集群容器内存缓存请求响应错误警告配置索引查询结果延迟吞吐量线程进程队列批处理流式生成推理训练",
];

/** Pseudo-words for the long tail of a real vocabulary (names, jargon, typos): most words are rare. */
function tailWords(rand: () => number, count: number): string[] {
  const onsets = [
    "b",
    "br",
    "c",
    "ch",
    "d",
    "dr",
    "f",
    "g",
    "gl",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "qu",
    "r",
    "s",
    "sh",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
  ];
  const vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"];
  const codas = ["", "n", "r", "s", "t", "l", "m", "x", "nd", "rk", "st"];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const out = new Set<string>();
  while (out.size < count) {
    const syllables = 2 + Math.floor(rand() * 2);
    out.add(Array.from({ length: syllables }, () => pick(onsets) + pick(vowels) + pick(codas)).join(""));
  }
  return [...out];
}
const CODE = [
  "```ts\nconst result = await fetch(url, { signal });\nif (!result.ok) throw new Error(`HTTP ${result.status}`);\n```",
  "```python\nfor item in items:\n    print(item.name, item.price)\n```",
  "```sql\nSELECT id, title FROM conversations WHERE pinned = 1 ORDER BY updated_at DESC;\n```",
  "```bash\nkubectl get pods -n default | grep Running\n```",
];

/** Zipf sampling over a list: rank r is drawn with weight 1/r. */
class Zipf<T> {
  private readonly cumulative: number[];
  constructor(private readonly items: readonly T[]) {
    let sum = 0;
    this.cumulative = items.map((_, i) => (sum += 1 / (i + 1)));
  }
  draw(rand: () => number): T {
    const x = rand() * this.cumulative.at(-1)!;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return this.items[lo]!;
  }
}

export class TextGen {
  readonly tail: string[];
  readonly cjkWords: string[];
  private readonly head = new Zipf(WORDS);
  private readonly tailZipf: Zipf<string>;
  private readonly cjkZipf: Zipf<string>;
  constructor(private readonly rand: () => number) {
    this.tail = tailWords(rand, 20_000);
    this.tailZipf = new Zipf(this.tail);
    const pick = () => CJK_CHARS[Math.floor(rand() * CJK_CHARS.length)]!;
    this.cjkWords = Array.from({ length: 3000 }, () =>
      Array.from({ length: 1 + Math.floor(rand() * 3) }, pick).join(""),
    );
    this.cjkZipf = new Zipf(this.cjkWords);
  }
  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rand() * list.length)]!;
  }
  /** A word: 85% from the common head, 15% from the long tail. */
  word(): string {
    return this.rand() < 0.85 ? this.head.draw(this.rand) : this.tailZipf.draw(this.rand);
  }
  cjkSentence(): string {
    return `${Array.from({ length: 4 + Math.floor(this.rand() * 10) }, () => this.cjkZipf.draw(this.rand)).join("")}。`;
  }
  sentence(): string {
    if (this.rand() < 0.03) return this.cjkSentence();
    const n = 5 + Math.floor(this.rand() * 14);
    const words = Array.from({ length: n }, () => (this.rand() < 0.01 ? this.pick(DIACRITICS) : this.word()));
    const s = words.join(" ");
    return `${s[0]!.toUpperCase()}${s.slice(1)}${this.rand() < 0.15 ? "?" : "."}`;
  }
  message(role: "user" | "assistant"): string {
    const n = role === "user" ? 1 + Math.floor(this.rand() * 3) : 2 + Math.floor(this.rand() * 7);
    const parts = Array.from({ length: n }, () => this.sentence());
    if (role === "assistant" && this.rand() < 0.08) parts.push(this.pick(CODE));
    return parts.join(" ");
  }
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function fileSizeMiB(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`]) if (fs.existsSync(f)) total += fs.statSync(f).size;
  return round(total / 1024 ** 2, 1);
}

interface QueryType {
  name: string;
  make: (gen: TextGen, rand: () => number) => string;
}

/** A few words of a sentence the generator could have written (so they co-occur like real text). */
function wordsOf(g: TextGen, r: () => number, count: number): string[] {
  let words: string[] = [];
  while (words.length < count + 1)
    words = g
      .sentence()
      .replace(/[.?。]$/u, "")
      .toLowerCase()
      .split(" ");
  const i = Math.floor(r() * (words.length - count));
  return words.slice(i, i + count);
}

const QUERY_TYPES: QueryType[] = [
  // Any word of the vocabulary, the head or the tail alike: what people look for is often rare.
  {
    name: "one-word",
    make: (g, r) => `${r() < 0.5 ? WORDS[Math.floor(r() * WORDS.length)]! : g.tail[Math.floor(r() * g.tail.length)]!} `,
  },
  // The worst case: the 30 most frequent words, each in a large share of all messages.
  { name: "common-word", make: (_g, r) => `${WORDS[Math.floor(r() * 30)]!} ` },
  { name: "two-word", make: (g, r) => `${wordsOf(g, r, 2).join(" ")} ` },
  { name: "phrase", make: (g, r) => `"${wordsOf(g, r, 2).join(" ")}"` },
  {
    // Typing: a word's first 3 to 6 letters, no space after.
    name: "prefix",
    make: (g, r) => {
      const long = [...WORDS, ...g.tail.slice(0, 2000)].filter((x) => x.length >= 5);
      const w = long[Math.floor(r() * long.length)]!;
      return w.slice(0, 3 + Math.floor(r() * 4));
    },
  },
  {
    // A few characters from a CJK sentence (no spaces to split on).
    name: "cjk",
    make: (g, r) => {
      const chars = [...g.cjkSentence().replace("。", "")];
      const len = 3 + Math.floor(r() * 3);
      const i = Math.floor(r() * Math.max(1, chars.length - len));
      return chars.slice(i, i + len).join("");
    },
  },
];

/**
 * Latency of each query type: wall clock (what a user waits, including time the CPU was busy with
 * other work) and CPU time of this process (what the query itself costs; steadier on a shared machine).
 */
export function measureQueries(
  store: HistoryStore,
  gen: TextGen,
  perType: number,
): { metrics: Record<string, number>; notes: string } {
  const qrand = seededRandom(7);
  const metrics: Record<string, number> = {};
  const notes: string[] = [];
  for (const type of QUERY_TYPES) {
    const wall: number[] = [];
    const cpu: number[] = [];
    let hits = 0;
    for (let i = 0; i < perType; i++) {
      const q = type.make(gen, qrand);
      const c = process.cpuUsage();
      const s = performance.now();
      const page = store.search.search({ q, limit: 20 });
      wall.push(performance.now() - s);
      const d = process.cpuUsage(c);
      cpu.push((d.user + d.system) / 1000);
      hits += page.hits.length;
    }
    wall.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    for (const p of [50, 95, 99]) metrics[`${type.name}_p${p}_ms`] = round(percentile(wall, p));
    metrics[`${type.name}_cpu_p95_ms`] = round(percentile(cpu, 95));
    notes.push(`${type.name}: ${round(hits / perType, 1)} hits/page`);
  }
  return { metrics, notes: notes.join("; ") };
}

/** Streams one /v1 reply and returns decode tokens/s (first token to last), as a client sees it. */
async function streamTokensPerSecond(url: string, maxTokens: number, seed: number): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "stories260K",
      messages: [{ role: "user", content: `Story number ${seed}: once upon a time` }],
      max_tokens: maxTokens,
      seed,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  const reader = res.body!.getReader();
  let text = "";
  let first = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    first ||= performance.now();
    text += Buffer.from(value).toString();
  }
  const seconds = (performance.now() - first) / 1000;
  const usage = text.match(/"completion_tokens":(\d+)/u);
  return usage ? Number(usage[1]) / seconds : NaN;
}

/**
 * Tokens/s through the real server with /v1 recording on and off: one server (one engine, so the
 * two sides differ only by recording), switched between requests, interleaved with the same seeds.
 */
export async function recordingOverhead(quick: boolean): Promise<BenchResult> {
  // Loaded here so the storage half of this benchmark runs even when the server does not build.
  const { createServer } = await import("../server/app.js");
  const model = await testModelPath();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-rec-"));
  let server: HearthServer | undefined;
  try {
    const config = loadConfig({
      env: {},
      overrides: {
        port: 0,
        dataDir: dir,
        threads: 1,
        ctxSize: 4096,
        parallel: 1,
        model,
        recordApi: true,
        logLevel: "silent",
      },
    });
    server = createServer(config, { logger: pino({ level: "silent" }) });
    const url = await server.start();
    const ctx = server.context;
    const rounds = quick ? 4 : 12;
    const maxTokens = 1500;
    const on: number[] = [];
    const off: number[] = [];
    await streamTokensPerSecond(url, 50, 0);
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first so drift in machine load does not favour one side.
      for (const recording of i % 2 === 0 ? [true, false] : [false, true]) {
        ctx.chat.recordApi = recording;
        (recording ? on : off).push(await streamTokensPerSecond(url, maxTokens, i + 1));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const recorded = ctx.history.store.listConversations({ source: "api" }).items.length;
    return {
      name: "history recording overhead (/v1 stream, stories260K, 1 thread)",
      metrics: {
        tokens_per_s_recording_on: round(median(on), 1),
        tokens_per_s_recording_off: round(median(off), 1),
        ratio_on_over_off: round(median(on) / median(off), 3),
        rounds,
      },
      notes: `medians of ${rounds} interleaved streams of up to ${maxTokens} tokens each on one server; ${recorded} conversations recorded`,
    };
  } finally {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU the recorder adds per streamed event, measured without a model: the same events through
 * the recorder and through a bare pass-through generator. Robust on a busy machine, unlike tokens/s.
 */
async function recorderCpuPerEvent(quick: boolean): Promise<BenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-recorder-"));
  const store = HistoryStore.open(path.join(dir, "history.sqlite"));
  try {
    const recorder = new HistoryRecorder(store);
    const events = quick ? 50_000 : 300_000;
    async function* source(): GenerationStream {
      for (let i = 0; i < events; i++) yield { type: "text", text: " tok" };
      yield { type: "finish", reason: "length", usage: { promptTokens: 1, completionTokens: events, cachedTokens: 0 } };
    }
    async function* passThrough(s: GenerationStream): GenerationStream {
      for await (const e of s) yield e;
    }
    const cpuOf = async (stream: GenerationStream) => {
      const start = process.cpuUsage();
      for await (const _e of stream);
      const d = process.cpuUsage(start);
      return (d.user + d.system) / events;
    };
    const c = store.createConversation({ source: "ui" });
    const u = store.appendMessage(c.id, { role: "user", content: "bench" });
    const plain: number[] = [];
    const recorded: number[] = [];
    for (let i = 0; i < 3; i++) {
      plain.push(await cpuOf(passThrough(source())));
      recorded.push(
        await cpuOf(recorder.recordReply(source(), { conversationId: c.id, parentId: u.id, model: "bench" })),
      );
    }
    const min = (xs: number[]) => Math.min(...xs);
    return {
      name: "history recorder CPU per streamed event",
      metrics: {
        pass_through_us: round(min(plain), 3),
        recorder_us: round(min(recorded), 3),
        overhead_us: round(min(recorded) - min(plain), 3),
      },
      notes: `${events} text events, best of 3; a 2,000 tokens/s stream spends 500 us per token`,
    };
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Text of about `chars` characters of one kind: prose from the generator, a log, or source code. */
export function largeText(gen: TextGen, rand: () => number, kind: "prose" | "log" | "code", chars: number): string {
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < chars; i++) {
    const line =
      kind === "prose"
        ? gen.message("assistant")
        : kind === "log"
          ? `2026-11-${String(1 + (i % 28)).padStart(2, "0")}T12:${String(i % 60).padStart(2, "0")}:07.${i % 1000}Z ` +
            `${rand() < 0.1 ? "WARN" : "INFO"} worker-${i % 16} request ${Math.floor(rand() * 1e9).toString(16)} ` +
            `${gen.word()} ${gen.word()} took ${Math.floor(rand() * 900)} ms status=${rand() < 0.05 ? 500 : 200}`
          : `  const ${gen.word()}_${i} = await ${gen.word()}.${gen.word()}(${gen.word()}, { limit: ${i % 97} }); // ${gen.word()}`;
    parts.push(line);
    length += line.length + 1;
  }
  return parts.join("\n").slice(0, chars);
}

/**
 * Runs `fn` and reports how long it took and the longest time the event loop could not run a
 * timer meanwhile (a 1 ms interval): what an HTTP request arriving during `fn` would wait.
 */
export async function withStalls<T>(fn: () => T | Promise<T>): Promise<{ value: T; ms: number; stallMs: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  try {
    const value = await fn();
    const ms = performance.now() - started;
    await new Promise((r) => setImmediate(r));
    worst = Math.max(worst, performance.now() - last);
    return { value, ms, stallMs: worst };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Issue 22 item 3: a history that holds a few multi-MB messages (a pasted log, a prose dump,
 * source code) beside 10k ordinary ones. Recording, searching, importing and deleting them, as
 * time taken and as the longest stall of the event loop (the server's HTTP thread).
 */
export async function largeMessages(opts: { quick: boolean; queriesPerType?: number }): Promise<BenchResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-large-"));
  const store = HistoryStore.open(path.join(dir, "history.sqlite"));
  try {
    const rand = seededRandom(99);
    const gen = new TextGen(rand);
    const metrics: Record<string, number> = {};
    // A few multi-MB messages recorded first, so they are the oldest matches of every common word;
    // then the ordinary history. Recorded as /v1 requests are (chat/service.ts): a client resends
    // the conversation so far with one more message, all of it hashed (history/threads.ts), then
    // the new one written.
    const recorder = new HistoryRecorder(store);
    let bigId = "";
    let record = { ms: 0, stallMs: 0 };
    const sent: ChatMessage[] = [];
    for (const [kind, mb] of [
      ["log", 2],
      ["prose", 2],
      ["code", 1],
    ] as const) {
      sent.push({ role: "user", content: largeText(gen, rand, kind, mb * 1_000_000) });
      const request = { kind: "chat", model: "bench", messages: [...sent], sampling: {} } as unknown as ChatRequest;
      const r = await withStalls(async () =>
        recorder.fileApiRequest(request, "bench", await recorder.apiHashes(request)),
      );
      bigId = r.value.conversationId;
      record = { ms: Math.max(record.ms, r.ms), stallMs: Math.max(record.stallMs, r.stallMs) };
    }
    store.db.transaction(() => {
      for (let made = 0; made < 10_000;) {
        // Titles that the query words do not match, so the pages are made of message hits.
        const c = store.createConversation({ source: "ui", title: `chat ${made}` });
        let parent: number | null = null;
        for (let j = 0; j < 40; j++, made++)
          parent = store.appendMessage(c.id, {
            role: j % 2 === 0 ? "user" : "assistant",
            content: gen.message(j % 2 === 0 ? "user" : "assistant"),
            parentId: parent,
          }).id;
      }
    })();
    metrics.record_2MB_max_ms = round(record.ms);
    const { metrics: q } = measureQueries(store, gen, opts.queriesPerType ?? (opts.quick ? 10 : 40));
    for (const [k, v] of Object.entries(q)) if (/_p(50|95)_ms$/u.test(k)) metrics[k] = v;
    const p95s = Object.entries(q)
      .filter(([k]) => /_p95_ms$/u.test(k) && !k.includes("cpu"))
      .map(([, v]) => v);
    metrics.search_p95_worst_ms = Math.max(...p95s);

    // 200 messages of 60 KB in one conversation (12 MB): import it as a file, then delete it.
    const wide = store.createConversation({ source: "ui", title: "wide" });
    store.db.transaction(() => {
      let parent: number | null = null;
      for (let i = 0; i < 200; i++)
        parent = store.appendMessage(wide.id, {
          role: i % 2 === 0 ? "user" : "assistant",
          content: largeText(gen, rand, "prose", 60_000),
          parentId: parent,
        }).id;
    })();
    const file = JSON.parse(JSON.stringify(store.exportJson([wide.id]))) as unknown;
    const imported = await withStalls(() => store.importJson(file, { onConflict: "copy" }));
    metrics.import_12MB_ms = round(imported.ms);
    metrics.import_12MB_stall_ms = round(imported.stallMs);
    // As DELETE /api/conversations/:id does it: in steps (store.ts deleteConversationInSteps).
    const deleted = await withStalls(() => store.deleteConversationInSteps(wide.id));
    metrics.delete_12MB_conversation_ms = round(deleted.ms);
    metrics.delete_12MB_conversation_stall_ms = round(deleted.stallMs);
    const deletedBig = await withStalls(() => store.deleteConversationInSteps(bigId));
    metrics.delete_5MB_conversation_ms = round(deletedBig.ms);
    metrics.delete_5MB_conversation_stall_ms = round(deletedBig.stallMs);
    metrics.record_2MB_stall_ms = round(record.stallMs);
    metrics.load_avg_1m = round(os.loadavg()[0] ?? 0);
    return {
      name: "history with a few multi-MB messages (10k ordinary + 2 MB log, 2 MB prose, 1 MB code)",
      metrics,
      notes:
        "search latencies are wall clock over the same query types as the rows above; stall = longest event-loop pause",
    };
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult[]> {
  const sizes = opts.quick ? [10_000] : [10_000, 100_000, 1_000_000];
  const queriesPerType = opts.quick ? 40 : 100;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-history-"));
  const file = path.join(dir, "history.sqlite");
  const store = HistoryStore.open(file);
  const results: BenchResult[] = [];
  try {
    const rand = seededRandom(42);
    const gen = new TextGen(rand);
    let inserted = 0;
    let chars = 0;
    for (const size of sizes) {
      // Bulk: 1,000 messages per transaction through the store's own append path (triggers included).
      const started = performance.now();
      while (inserted < size) {
        store.db.transaction(() => {
          for (let i = 0; i < 1000 && inserted < size;) {
            const c = store.createConversation({
              source: rand() < 0.3 ? "api" : "ui",
              model: rand() < 0.5 ? "llama" : "qwen",
            });
            let parent: number | null = null;
            const len = 10 + Math.floor(rand() * 80);
            for (let j = 0; j < len && inserted < size; j++, i++, inserted++) {
              const role = j % 2 === 0 ? "user" : "assistant";
              const content = gen.message(role);
              chars += content.length;
              parent = store.appendMessage(c.id, { role, content, parentId: parent }).id;
            }
          }
        })();
      }
      const bulkSeconds = (performance.now() - started) / 1000;

      // One message per transaction: what recording a turn costs.
      const single = store.createConversation({ source: "ui" });
      const singleCount = 500;
      const t0 = performance.now();
      let parent: number | null = null;
      for (let i = 0; i < singleCount; i++) {
        parent = store.appendMessage(single.id, { role: "user", content: gen.message("user"), parentId: parent }).id;
      }
      const singleMs = (performance.now() - t0) / singleCount;
      store.deleteConversation(single.id);

      const metrics: Record<string, number> = {
        messages: size,
        avg_chars: round(chars / inserted, 0),
        bulk_insert_msgs_per_s: round((size - (sizes[sizes.indexOf(size) - 1] ?? 0)) / bulkSeconds, 0),
        single_insert_ms: round(singleMs, 3),
        db_MiB: fileSizeMiB(file),
        // Latencies are wall clock: on a shared machine they grow with the load.
        load_avg_1m: round(os.loadavg()[0] ?? 0),
      };
      const { metrics: queryMetrics, notes } = measureQueries(store, gen, queriesPerType);
      Object.assign(metrics, queryMetrics);
      results.push({ name: `history ${size.toLocaleString("en")} messages`, metrics, notes });
      process.stderr.write(`  ${JSON.stringify(results.at(-1))}\n`);
    }
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  results.push(await largeMessages(opts));
  results.push(await recorderCpuPerEvent(opts.quick));
  results.push(await recordingOverhead(opts.quick));
  return results;
}
