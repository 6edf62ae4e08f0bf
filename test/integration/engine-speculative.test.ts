/**
 * Speculative decoding (server/engine/speculative.ts) on real node-llama-cpp sequences: greedy
 * output token for token the same with and without guesses (stories260K on a prompt its reply
 * repeats, and a scripted model whose reply is known), guesses bounded by draftMax, and the back-off
 * when every guess is wrong, when a draft has nothing to offer, and when a guesser never answers.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  DraftSequenceTokenPredictor,
  LlamaCompletion,
  TokenPredictor,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { createRuntime, type EngineRuntime } from "../../server/engine/runtime.js";
import {
  ACCEPTABLE_PER_STEP,
  AdaptivePredictor,
  MAX_PAUSE_STEPS,
  draftModelPredictor,
  loadDraft,
  promptLookupPredictor,
  type SpeculationCounts,
} from "../../server/engine/speculative.js";
import { createLogger } from "../../server/logger.js";
import { testModelPath } from "../helpers/models.js";
import { scriptedModel } from "../helpers/scripted-models.js";

let runtime: EngineRuntime;
let model: LlamaModel;
let context: LlamaContext;

before(async () => {
  runtime = await createRuntime({ gpu: "cpu", threads: 1, binary: "prebuilt", logger: createLogger("silent") });
  model = await runtime.llama.loadModel({ modelPath: await testModelPath() });
  context = await model.createContext({ sequences: 3, contextSize: 2048, threads: { ideal: 1, min: 1 } });
});
after(async () => {
  await context?.dispose();
  await model?.dispose();
  await runtime?.dispose();
});

/** Greedy tokens of `prompt` on `sequence` from an empty state, with the predictor (when any) on. */
async function greedyTokens(
  sequence: LlamaContextSequence,
  prompt: string,
  maxTokens: number,
  predictor?: AdaptivePredictor,
): Promise<{ tokens: Token[]; counts: SpeculationCounts | null }> {
  await sequence.clearHistory();
  predictor?.begin(true, sequence.model.tokenize(prompt));
  const tokens: Token[] = [];
  await new LlamaCompletion({ contextSequence: sequence }).generateCompletion(prompt, {
    maxTokens,
    temperature: 0,
    // As the server sends a request that speculates (local-model.ts speculates only without
    // penalties). With LlamaCompletion's default penalty a draft still decoding when the request
    // ends reads the finished completion's penalty tokens, which throws once its sequence is disposed.
    repeatPenalty: false,
    onToken: (t) => tokens.push(...t),
  });
  return { tokens, counts: predictor ? predictor.end() : null };
}

const STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

/** A prompt whose greedy reply repeats text it holds: the story, its own continuation, the story again. */
async function repeatingPrompt(sequence: LlamaContextSequence): Promise<string> {
  await sequence.clearHistory();
  const reply = await new LlamaCompletion({ contextSequence: sequence }).generateCompletion(STORY, {
    maxTokens: 120,
    temperature: 0,
  });
  return `${STORY}${reply}\n\n${STORY}`;
}

test("stories260K: greedy tokens are the same with prompt lookup on, and guesses were accepted", async () => {
  const plainSequence = context.getSequence();
  const counts: SpeculationCounts[] = [];
  const predictor = new AdaptivePredictor(promptLookupPredictor(8), 8, (c) => counts.push(c));
  const speculating = context.getSequence({ tokenPredictor: predictor });
  try {
    const prompt = await repeatingPrompt(plainSequence);
    const plain = await greedyTokens(plainSequence, prompt, 200);
    const guessed = await greedyTokens(speculating, prompt, 200, predictor);
    assert.equal(plain.tokens.length, 200);
    assert.deepEqual(guessed.tokens, plain.tokens, "token for token the same");
    assert.ok(guessed.counts!.accepted > 10, `guesses were accepted: ${JSON.stringify(guessed.counts)}`);
    assert.ok(guessed.counts!.accepted <= guessed.counts!.drafted);
    // Every step's guesses stay within what node-llama-cpp can accept in a step (speculative.ts).
    assert.ok(
      counts.every((c) => c.drafted <= ACCEPTABLE_PER_STEP),
      JSON.stringify(counts),
    );
  } finally {
    plainSequence.dispose();
    speculating.dispose();
  }
});

test("draftMax bounds a step's guesses, whatever the guesser offers", async () => {
  const counts: SpeculationCounts[] = [];
  // The guesser offers 8 a step; draftMax 1 lets one through.
  const predictor = new AdaptivePredictor(promptLookupPredictor(8), 1, (c) => counts.push(c));
  const plainSequence = context.getSequence();
  const speculating = context.getSequence({ tokenPredictor: predictor });
  try {
    const prompt = await repeatingPrompt(plainSequence);
    const plain = await greedyTokens(plainSequence, prompt, 120);
    const guessed = await greedyTokens(speculating, prompt, 120, predictor);
    assert.deepEqual(guessed.tokens, plain.tokens);
    assert.ok(counts.length > 0, "it speculated");
    assert.ok(
      counts.every((c) => c.drafted === 1),
      JSON.stringify(counts),
    );
    const none = new AdaptivePredictor(promptLookupPredictor(8), 0);
    const silent = context.getSequence({ tokenPredictor: none });
    try {
      const off = await greedyTokens(silent, prompt, 120, none);
      assert.deepEqual(off.counts, { drafted: 0, accepted: 0 }, "draftMax 0 drafts nothing");
      assert.deepEqual(off.tokens, plain.tokens);
    } finally {
      silent.dispose();
    }
  } finally {
    plainSequence.dispose();
    speculating.dispose();
  }
});

test("a request that turns it off drafts nothing and writes the same tokens", async () => {
  const predictor = new AdaptivePredictor(promptLookupPredictor(8), 8);
  const plainSequence = context.getSequence();
  const speculating = context.getSequence({ tokenPredictor: predictor });
  try {
    const prompt = await repeatingPrompt(plainSequence);
    const plain = await greedyTokens(plainSequence, prompt, 80);
    await speculating.clearHistory();
    predictor.begin(false, model.tokenize(prompt));
    const tokens: Token[] = [];
    await new LlamaCompletion({ contextSequence: speculating }).generateCompletion(prompt, {
      maxTokens: 80,
      temperature: 0,
      onToken: (t) => tokens.push(...t),
    });
    assert.deepEqual(predictor.end(), { drafted: 0, accepted: 0 });
    assert.deepEqual(tokens, plain.tokens);
  } finally {
    plainSequence.dispose();
    speculating.dispose();
  }
});

/** Always guesses a token the model never writes here: every guess is refuted. */
class WrongGuesser extends TokenPredictor {
  calls = 0;
  constructor(private readonly token: Token) {
    super();
  }
  reset(): void {}
  pushTokens(): void {}
  predictTokens(): Token[] {
    this.calls++;
    return [this.token, this.token, this.token];
  }
}

test("when every guess is refuted it backs off to a probe every MAX_PAUSE_STEPS steps, with the same tokens", async () => {
  const plainSequence = context.getSequence();
  const prompt = STORY;
  const plain = await greedyTokens(plainSequence, prompt, 400);
  // A token the reply never holds (the vocabulary's last), so each probe is a miss.
  const never = (model.tokens as unknown as { size?: number }).size;
  const wrong = ((never ?? 512) - 1) as Token;
  assert.ok(!plain.tokens.includes(wrong));
  const guesser = new WrongGuesser(wrong);
  const counts: SpeculationCounts[] = [];
  const predictor = new AdaptivePredictor(guesser, 8, (c) => counts.push(c));
  const speculating = context.getSequence({ tokenPredictor: predictor });
  try {
    const guessed = await greedyTokens(speculating, prompt, 400, predictor);
    assert.deepEqual(guessed.tokens, plain.tokens);
    assert.equal(guessed.counts!.accepted, 0);
    // Pauses of 1, 2, 4 ... 64 steps: 7 probes in the first 127 steps, then one per 65.
    const probes = counts.length;
    assert.ok(probes >= 7 && probes <= 7 + Math.ceil((400 - 127) / (MAX_PAUSE_STEPS + 1)) + 1, `probes: ${probes}`);
    assert.equal(guesser.calls, probes, "the guesser is not even asked while paused");
    // After the first miss, a probe is one token.
    assert.ok(
      counts.slice(1).every((c) => c.drafted === 1),
      JSON.stringify(counts),
    );

    // The next request on the sequence keeps the back-off: one probe, then a long pause again.
    counts.length = 0;
    await greedyTokens(speculating, prompt, 60, predictor);
    assert.equal(counts.length, 1, `one probe in 60 tokens: ${JSON.stringify(counts)}`);
  } finally {
    plainSequence.dispose();
    speculating.dispose();
  }
});

test("a scripted model whose reply the prompt holds: same tokens, nearly every guess accepted", async () => {
  const scripted = await runtime.llama.loadModel({ modelPath: scriptedModel("qwen3-answer-forever") });
  const ctx = await scripted.createContext({ sequences: 2, contextSize: 1024, threads: { ideal: 1, min: 1 } });
  try {
    const predictor = new AdaptivePredictor(promptLookupPredictor(8), 8);
    const plainSequence = ctx.getSequence();
    const speculating = ctx.getSequence({ tokenPredictor: predictor });
    const prompt =
      "Repeat after me: Counting sheep keeps me calm while I wait. Counting sheep keeps me calm while I wait.";
    const plain = await greedyTokens(plainSequence, prompt, 100);
    const guessed = await greedyTokens(speculating, prompt, 100, predictor);
    assert.match(scripted.detokenize(plain.tokens), /^ ?Counting sheep keeps me calm while I wait\. ?Counting sheep/);
    assert.deepEqual(guessed.tokens, plain.tokens);
    const { drafted, accepted } = guessed.counts!;
    // One accepted guess a step at most (ACCEPTABLE_PER_STEP): about every other token.
    assert.ok(accepted >= 30 && accepted / drafted > 0.6, `accepted ${accepted} of ${drafted}`);
  } finally {
    await ctx.dispose();
    await scripted.dispose();
  }
});

test("a draft model with the same vocabulary drafts: same tokens, guesses accepted", async () => {
  // stories260K drafting for itself: every guess the draft is confident of is right.
  const draft = await loadDraft(runtime.llama, await testModelPath(), model, {
    contextSize: 2048,
    sequences: 1,
    threads: 1,
  });
  const plainSequence = context.getSequence();
  const predictor = new AdaptivePredictor(draftModelPredictor(draft.context.getSequence(), 8), 8);
  const speculating = context.getSequence({ tokenPredictor: predictor });
  try {
    assert.equal(predictor.kind, "draft-model");
    const plain = await greedyTokens(plainSequence, STORY, 150);
    const guessed = await greedyTokens(speculating, STORY, 150, predictor);
    assert.deepEqual(guessed.tokens, plain.tokens);
    assert.ok(guessed.counts!.accepted > 10, JSON.stringify(guessed.counts));
  } finally {
    plainSequence.dispose();
    speculating.dispose();
    await draft.model.dispose();
  }
});

test("a draft model with nothing to offer backs off too: it stops decoding ahead, and no request waits on it", async () => {
  // A confidence bar the draft almost never clears: it decodes a token, finds it unsure, offers
  // nothing. Before, that was no miss, so the draft decoded a token every step of the target's.
  const draft = await loadDraft(runtime.llama, await testModelPath(), model, {
    contextSize: 2048,
    sequences: 1,
    threads: 1,
  });
  const draftSequence = draft.context.getSequence();
  const guesser = new DraftSequenceTokenPredictor(draftSequence, { minTokens: 1, maxTokens: 8, minConfidence: 0.9999 });
  const predictor = new AdaptivePredictor(guesser, 8);
  const plainSequence = context.getSequence();
  const speculating = context.getSequence({ tokenPredictor: predictor });
  try {
    const plain = await greedyTokens(plainSequence, STORY, 200);
    // Several requests in a row on the sequence: tokens held during a pause reach the draft in one
    // push, and every prediction is answered (a lost one would leave a request waiting for ever).
    for (let i = 0; i < 6; i++) {
      const before = draftSequence.tokenMeter.usedOutputTokens;
      const guessed = await greedyTokens(speculating, STORY, 200, predictor);
      assert.deepEqual(guessed.tokens, plain.tokens, `request ${i}`);
      const decoded = draftSequence.tokenMeter.usedOutputTokens - before;
      assert.ok(decoded <= 40, `request ${i}: the draft generated ${decoded} tokens for 200 of the target's`);
    }
  } finally {
    plainSequence.dispose();
    speculating.dispose();
    await draft.model.dispose();
  }
});

/** Answers no prediction, ever: what node-llama-cpp's draft predictor does when it drops one. */
class SilentGuesser extends TokenPredictor {
  calls = 0;
  reset(): void {}
  pushTokens(): void {}
  predictTokens(): Promise<Token[]> {
    this.calls++;
    return new Promise(() => {});
  }
}

test("a guesser that never answers cannot hold a request: the step goes on without guesses", async () => {
  const plainSequence = context.getSequence();
  const guesser = new SilentGuesser();
  const predictor = new AdaptivePredictor(guesser, 8, undefined, 20);
  const speculating = context.getSequence({ tokenPredictor: predictor });
  try {
    const plain = await greedyTokens(plainSequence, STORY, 60);
    const guessed = await greedyTokens(speculating, STORY, 60, predictor);
    assert.deepEqual(guessed.tokens, plain.tokens);
    assert.deepEqual(guessed.counts, { drafted: 0, accepted: 0 });
    // Each wait that ran out is a miss: probes at steps 1, 3, 6, 11, 20, 37 of 60, not every step.
    assert.ok(guesser.calls >= 2 && guesser.calls <= 7, `asked ${guesser.calls} times`);
  } finally {
    plainSequence.dispose();
    speculating.dispose();
  }
});

test("a draft model with another vocabulary is refused, naming both", async () => {
  await assert.rejects(
    loadDraft(runtime.llama, scriptedModel("qwen3-answer"), model, { contextSize: 512, sequences: 1, threads: 1 }),
    (err: Error & { param?: string }) => {
      assert.match(err.message, /The draft model qwen3-answer[^ ]*\.gguf cannot draft for this model: .*vocabulary/);
      return true;
    },
  );
});
