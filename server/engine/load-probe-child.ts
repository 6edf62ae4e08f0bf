/**
 * The disposable process of the load probe (load-probe.ts): loads one model file the way the
 * server would (same backend, binary, threads, GPU layers and context size), reads text with its
 * vocabulary, creates a context and evaluates a short prompt, reporting each stage as a JSON line
 * on stdout. If llama.cpp aborts or faults on the way, only this process dies; the parent reads
 * how far it got from the last line and why from stderr.
 *
 * Started as a disposable child (util/disposable-child.ts), with the request as its input message:
 * by the server's own Node, or by the desktop app's main process as an Electron utility process.
 */
import { pino } from "pino";
import { childInput } from "../util/child-input.js";
import { createRuntime, type EngineBinary, type GpuChoice } from "./runtime.js";

export interface ProbeRequest {
  file: string;
  gpu: GpuChoice;
  threads: number;
  binary: EngineBinary;
  gpuLayers: number | "auto" | "max";
  contextSize: number;
}

/** One line the child writes: a stage reached, load progress, or the end. */
export type ProbeMessage =
  { stage: ProbeStage } | { progress: number } | { ok: true } | { ok: false; stage: ProbeStage; error: string };

export type ProbeStage = "started" | "engine" | "loaded" | "tokenized" | "context" | "evaluated";

/**
 * Text that exercises the tokenizer: a chat-like turn with accents, CJK, an emoji (bytes a
 * SentencePiece vocabulary spells with byte tokens), a tab, newlines and special-token text.
 */
const PROBE_TEXT = "<s>User: Hello! Héllo, naïve café — 日本語 😀\tok?\n\nAssistant: Once upon a time</s>";

function send(message: ProbeMessage): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(message)}\n`, () => resolve()));
}

async function main(request: ProbeRequest): Promise<void> {
  let stage: ProbeStage = "started";
  const reach = async (next: ProbeStage) => {
    stage = next;
    await send({ stage });
  };
  await reach("started");
  try {
    // Warnings and errors only, one JSON line each, written at once: the last line before a crash is the one that counts.
    const logger = pino({ level: "warn", base: null, timestamp: false }, pino.destination({ fd: 2, sync: true }));
    const runtime = await createRuntime({
      gpu: request.gpu,
      threads: request.threads,
      lanes: 1,
      binary: request.binary,
      logger,
    });
    await reach("engine");
    let reported = 0;
    const model = await runtime.explainFailure(() =>
      runtime.llama.loadModel({
        modelPath: request.file,
        gpuLayers: request.gpuLayers,
        onLoadProgress: (p) => {
          // Progress also tells the parent the load is alive (its stall timer).
          if (p - reported >= 0.02) {
            reported = p;
            void send({ progress: p });
          }
        },
      }),
    );
    await reach("loaded");
    const tokens = model.tokenize(PROBE_TEXT, true);
    model.detokenize(tokens, true);
    await reach("tokenized");
    const context = await runtime.explainFailure(() =>
      model.createContext({
        contextSize: request.contextSize,
        sequences: 1,
        threads: { ideal: runtime.threads, min: 1 },
      }),
    );
    await reach("context");
    const sequence = context.getSequence();
    const prompt = tokens.slice(0, Math.max(1, Math.min(tokens.length, context.contextSize - 4)));
    let generated = 0;
    for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
      model.detokenize([token]);
      if (++generated >= 2) break;
    }
    await reach("evaluated");
    await send({ ok: true });
  } catch (err) {
    await send({ ok: false, stage, error: err instanceof Error ? err.message : String(err) });
  }
  // No disposal: the process is thrown away, and exiting now is the fastest way to free it all.
  process.exit(0);
}

void childInput<ProbeRequest>().then(main);
