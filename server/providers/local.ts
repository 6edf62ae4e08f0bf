/**
 * The local provider: the Provider contract (core/types.ts) on top of the model manager
 * (models/manager.ts), which owns each local model's lifecycle (available files, load, unload,
 * eviction under the memory budget, state). Here: what the router asks of a provider, and the
 * refusal of request fields local models cannot honour.
 */
import { BadRequestError } from "../errors.js";
import type { ModelManager } from "../models/manager.js";
import type {
  ChatRequest,
  EmbeddingRequest,
  EmbeddingResult,
  GenerationRequest,
  GenerationStream,
  ModelInfo,
  Provider,
} from "../core/types.js";
import { vllmExtrasIn } from "../core/types.js";

/** The id of the local provider: `ModelInfo.provider` of every local model. */
export const LOCAL_PROVIDER_ID = "local";

export class LocalProvider implements Provider {
  readonly id = LOCAL_PROVIDER_ID;

  constructor(private readonly models: ModelManager) {}

  async listModels(): Promise<ModelInfo[]> {
    return (await this.models.usable()).map((m) => ({
      id: m.id,
      ownedBy: "local",
      created: Math.floor(m.modifiedAt / 1000),
      provider: this.id,
    }));
  }

  hasModel(model: string): Promise<boolean> {
    return this.models.has(model);
  }

  async generate(request: GenerationRequest, signal: AbortSignal): Promise<GenerationStream> {
    // vLLM's own fields, as remote-wire.ts's kind policies treat them: guided_json on chat is
    // followed (convert.ts made it the response format), ignore_eos too (engine/ignore-eos.ts), and
    // repetition_penalty (llama.cpp's own penalty; Ollama's `repeat_penalty` arrives as it); the
    // rest would change what comes back, so they are refused by name, before a model is loaded for nothing.
    const unsupported = vllmExtrasIn(request.extras).filter(
      (p) => !(p === "guided_json" && request.kind === "chat") && p !== "ignore_eos" && p !== "repetition_penalty",
    );
    if (unsupported.length > 0) {
      throw new BadRequestError(
        `'${unsupported[0]}' is a vLLM parameter; local models do not support it. For structured output use response_format (or guided_json on chat).`,
        { param: unsupported[0], code: "unsupported_parameter" },
      );
    }
    const repetition = request.extras?.repetition_penalty;
    if (typeof repetition === "number" && !(repetition > 0 && Number.isFinite(repetition))) {
      throw new BadRequestError("repetition_penalty must be a number above 0 (1 is no penalty).", {
        param: "repetition_penalty",
        code: "invalid_value",
      });
    }
    return this.models.withModel(request.model, signal, (m) => m.generate(request, signal));
  }

  async countTokens(request: ChatRequest, signal: AbortSignal): Promise<number> {
    return this.models.withModel(request.model, signal, async (m) => m.countChatTokens(request));
  }

  async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    return this.models.withModel(request.model, signal, (m) => m.embed(request.input, signal));
  }

  /** Nothing of its own to free: the models are the manager's, which the server closes (with its grace period). */
  async close(): Promise<void> {}
}
