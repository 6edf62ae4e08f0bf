/**
 * Thinking models (docs/ENGINE-NOTES.md §3.7): whether a loaded model writes thought segments, how a
 * request's reasoning controls map onto it, and whether its template opens the thought itself.
 * node-llama-cpp's chat wrappers parse the family's thought syntax (`<think>`, harmony's analysis
 * channel) into segments; this decides what the wrapper and LlamaChat are asked for.
 */
import {
  HarmonyChatWrapper,
  LlamaText,
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatWrapper,
  type GgufFileInfo,
  type LlamaChatResponseChunk,
} from "node-llama-cpp";
import type { ReasoningEffort, ReasoningOptions } from "../core/types.js";

/** What one request asks of the model's thinking. */
export interface ThinkingPlan {
  /** The chat wrapper variant to render and parse with; undefined is the model's own. */
  variant?: { key: string; wrapper: ChatWrapper };
  /** Most thought tokens (node-llama-cpp's `budgets.thoughtTokens`); undefined is no limit. */
  thoughtBudget?: number;
}

function textOf(value: unknown): string {
  if (value === undefined || value === null) return "";
  return LlamaText(value as string).toString();
}

/** A harmony wrapper like `base` at another reasoning level (gpt-oss's system prompt carries it). */
function harmonyAt(base: HarmonyChatWrapper, level: "low" | "medium" | "high"): HarmonyChatWrapper {
  return new HarmonyChatWrapper({
    modelIdentity: base.modelIdentity,
    cuttingKnowledgeDate: base.cuttingKnowledgeDate ?? null,
    todayDate: base.todayDate,
    requiredChannels: base.requiredChannels,
    keepOnlyLastThought: base.keepOnlyLastThought,
    reasoningEffort: level,
    // The flags resolveChatWrapper matched against the file's Jinja template (same rendering otherwise).
    ...({ _jinjaFlags: (base as unknown as { _jinjaFlags?: unknown })._jinjaFlags } as object),
  });
}

/** A wrapper's thought segments' opening text, empty when it has none. */
function thoughtPrefixOf(wrapper: ChatWrapper): string {
  return textOf(wrapper.settings.segments?.thought?.prefix).trim();
}

/**
 * Thought syntaxes a chat template shows when its model thinks: `<think>`…`</think>` (Qwen3, QwQ,
 * DeepSeek-R1, whose template may open the thought itself) and harmony's analysis channel (gpt-oss).
 */
const THOUGHT_IN_TEMPLATE = [/<\/?think>/u, /<\|channel\|>[^"']{0,20}analysis|["']analysis["']/u];

/**
 * Whether a model thinks, known from its file before it is loaded (the library scan): its own chat
 * template writes a thought syntax, or the wrapper node-llama-cpp picks by its name and architecture
 * has thought segments (what `Thinking.thinks` says once it is loaded). Never renders the template:
 * that runs only in the template checker's child (template-guard.ts). The UI offers its reasoning
 * control from this until the model has been loaded, and from `Thinking.thinks` after.
 */
export function thinksFromFile(info: GgufFileInfo, filename: string): boolean {
  const template = info.metadata.tokenizer?.chat_template;
  if (typeof template === "string" && THOUGHT_IN_TEMPLATE.some((re) => re.test(template))) return true;
  try {
    const wrapper = resolveChatWrapper({
      architecture: info.metadata.general?.architecture,
      filename,
      fileInfo: {
        ...info,
        metadata: { ...info.metadata, tokenizer: { ...info.metadata.tokenizer, chat_template: undefined } },
      } as GgufFileInfo,
      warningLogs: false,
      noJinja: true,
    });
    return wrapper !== null && thoughtPrefixOf(wrapper) !== "";
  } catch {
    return false;
  }
}

export class Thinking {
  /** The model writes thought segments its wrapper can tell apart from the answer. */
  readonly thinks: boolean;
  /**
   * The model's template ends the prompt inside an open thought (DeepSeek-R1's `<｜Assistant｜><think>\n`)
   * while its wrapper does not: the reply then starts mid-thought, and only `</think>` shows where it ends.
   */
  readonly opensThought: boolean;
  private readonly variants = new Map<string, ChatWrapper>();

  /** `templatePromptEnd`: how the file's own Jinja template ends a prompt (template-guard.ts), if it has one. */
  constructor(
    private readonly wrapper: ChatWrapper,
    templatePromptEnd?: string,
  ) {
    const prefix = thoughtPrefixOf(wrapper);
    this.thinks = prefix !== "";
    const wrapperPromptEnd = wrapper
      .generateContextState({
        chatHistory: [
          { type: "user", text: "x" },
          { type: "model", response: [] },
        ],
      })
      .contextText.toString()
      .trimEnd();
    this.opensThought =
      this.thinks &&
      templatePromptEnd !== undefined &&
      templatePromptEnd.trimEnd().endsWith(prefix) &&
      !wrapperPromptEnd.endsWith(prefix);
  }

  /** What `options` asks of this model. A model that does not think ignores them. */
  plan(options: ReasoningOptions | undefined): ThinkingPlan {
    if (!this.thinks || !options) return {};
    const effort: ReasoningEffort | undefined = options.effort;
    const plan: ThinkingPlan = {};
    if (effort === "none") plan.thoughtBudget = 0;
    else if (options.budgetTokens !== undefined) plan.thoughtBudget = options.budgetTokens;
    // gpt-oss has levels of its own; the others think freely unless turned off or budgeted.
    if (this.wrapper instanceof HarmonyChatWrapper && effort !== undefined) {
      const level = effort === "none" ? "low" : effort;
      if (level !== this.wrapper.reasoningEffort) {
        const key = `harmony:${level}`;
        let variant = this.variants.get(key);
        if (!variant) this.variants.set(key, (variant = harmonyAt(this.wrapper, level)));
        plan.variant = { key, wrapper: variant };
      }
    }
    return plan;
  }

  /** Opens the reply's thought in `history` where the template would have (see `opensThought`). */
  openThought(history: ChatHistoryItem[]): void {
    const last = history.at(-1);
    if (!this.opensThought || last?.type !== "model" || last.response.length > 0) return;
    last.response.push({ type: "segment", segmentType: "thought", text: "", ended: false });
  }
}

/**
 * Splits LlamaChat's response chunks into answer text and reasoning. Harmony's commentary
 * preamble (a "comment" segment) is text the user is meant to see. The whitespace a family puts
 * between its closed thought and the answer (Qwen3's "\n\n") is not part of the answer.
 */
export class ReplySplitter {
  /** Tokens of the thought segments so far. */
  reasoningTokens = 0;
  private answered = false;
  private thought = false;

  constructor(
    private readonly onText: (text: string) => void,
    private readonly onReasoning: (text: string) => void,
  ) {}

  push(chunk: LlamaChatResponseChunk): void {
    if (chunk.type === "segment" && chunk.segmentType === "thought") {
      this.thought = true;
      this.reasoningTokens += chunk.tokens.length;
      if (chunk.text) this.onReasoning(chunk.text);
      return;
    }
    let text = chunk.text;
    if (!this.answered && this.thought) text = text.replace(/^\s+/, "");
    if (!text) return;
    this.answered = true;
    this.onText(text);
  }
}
