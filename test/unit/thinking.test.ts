/**
 * How a request's reasoning controls map onto a thinking model's chat wrapper (engine/thinking.ts),
 * with node-llama-cpp's real wrappers: gpt-oss gets its own reasoning level in the system prompt,
 * `none` is a zero thought budget, a model without thoughts ignores the controls, and a template
 * that opens the thought itself (DeepSeek-R1) makes the reply start inside one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DeepSeekChatWrapper,
  HarmonyChatWrapper,
  Llama3_1ChatWrapper,
  QwenChatWrapper,
  type ChatHistoryItem,
} from "node-llama-cpp";
import { ReplySplitter, Thinking } from "../../server/engine/thinking.js";

const promptOf = (wrapper: HarmonyChatWrapper) =>
  wrapper
    .generateContextState({
      chatHistory: [
        { type: "user", text: "Hi" },
        { type: "model", response: [] },
      ],
    })
    .contextText.toString();

test("gpt-oss: reasoning_effort picks harmony's level in the system prompt", () => {
  const thinking = new Thinking(new HarmonyChatWrapper());
  assert.equal(thinking.thinks, true);
  for (const level of ["low", "high"] as const) {
    const plan = thinking.plan({ effort: level });
    assert.ok(plan.variant, level);
    assert.match(promptOf(plan.variant.wrapper as HarmonyChatWrapper), new RegExp(`Reasoning: ${level}`));
    assert.equal(plan.thoughtBudget, undefined);
  }
  // harmony's default level needs no variant; `none` is its lowest level with no thought tokens.
  assert.equal(thinking.plan({ effort: "medium" }).variant, undefined);
  assert.equal(thinking.plan({ effort: "none" }).thoughtBudget, 0);
  assert.equal(
    thinking.plan({ effort: "high" }).variant?.wrapper,
    thinking.plan({ effort: "high" }).variant?.wrapper,
    "made once",
  );
});

test("Qwen3: none is a zero thought budget, budget_tokens a budget, no variant", () => {
  const thinking = new Thinking(new QwenChatWrapper(), "<|im_start|>assistant\n");
  assert.equal(thinking.thinks, true);
  assert.equal(thinking.opensThought, false);
  assert.deepEqual(thinking.plan({ effort: "none" }), { thoughtBudget: 0 });
  assert.deepEqual(thinking.plan({ budgetTokens: 300 }), { thoughtBudget: 300 });
  assert.deepEqual(thinking.plan({ effort: "high" }), {});
  assert.deepEqual(thinking.plan(undefined), {});
});

test("a wrapper without thought segments ignores the controls", () => {
  const thinking = new Thinking(new Llama3_1ChatWrapper());
  assert.equal(thinking.thinks, false);
  assert.deepEqual(thinking.plan({ effort: "none", budgetTokens: 5 }), {});
});

test("DeepSeek-R1: a template that opens <think> starts the reply inside a thought", () => {
  const opened = new Thinking(new DeepSeekChatWrapper(), "<｜User｜>Hi<｜Assistant｜><think>\n");
  const closed = new Thinking(new DeepSeekChatWrapper(), "<｜User｜>Hi<｜Assistant｜>");
  assert.equal(opened.opensThought, true);
  assert.equal(closed.opensThought, false);
  const history = (): ChatHistoryItem[] => [
    { type: "user", text: "Hi" },
    { type: "model", response: [] },
  ];
  const h = history();
  opened.openThought(h);
  assert.deepEqual(h.at(-1), {
    type: "model",
    response: [{ type: "segment", segmentType: "thought", text: "", ended: false }],
  });
  const prefill: ChatHistoryItem[] = [
    { type: "user", text: "Hi" },
    { type: "model", response: ["Sure"] },
  ];
  opened.openThought(prefill);
  assert.deepEqual(prefill.at(-1), { type: "model", response: ["Sure"] }, "a prefilled reply is continued as it is");
  const c = history();
  closed.openThought(c);
  assert.deepEqual(c.at(-1), { type: "model", response: [] });
});

test("ReplySplitter: thoughts apart, the blank line after a thought dropped, tokens counted", () => {
  const text: string[] = [];
  const reasoning: string[] = [];
  const split = new ReplySplitter(
    (t) => text.push(t),
    (t) => reasoning.push(t),
  );
  const seg = (s: string, n: number) =>
    ({ type: "segment", segmentType: "thought", text: s, tokens: new Array(n).fill(1) }) as never;
  const txt = (s: string) => ({ type: undefined, segmentType: undefined, text: s, tokens: [1] }) as never;
  split.push(seg("", 0));
  split.push(seg("Let me", 2));
  split.push(seg(" count.", 2));
  split.push(txt("\n\n"));
  split.push(txt("Hello"));
  split.push(txt("\n there"));
  assert.deepEqual(reasoning, ["Let me", " count."]);
  assert.deepEqual(text, ["Hello", "\n there"]);
  assert.equal(split.reasoningTokens, 4);
});
