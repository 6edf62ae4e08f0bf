/**
 * The chat template a local model is run with. By default node-llama-cpp picks one from the GGUF's
 * own Jinja template, its name or its architecture (ENGINE-NOTES §3.1); the `chatTemplate` setting
 * overrides that with a wrapper name (`chatML`, `llama3.1`...) or a Jinja template, e.g. for a model
 * shipped without one, or to get a template that knows tools.
 */
import { resolveChatWrapper, specializedChatWrapperTypeNames, type ChatWrapper, type LlamaModel } from "node-llama-cpp";
import { isJinjaTemplate } from "../config.js";

export class ChatTemplateError extends Error {}

/** The wrapper for `chatTemplate`, or undefined to let node-llama-cpp choose ("auto"). Throws ChatTemplateError on a bad template. */
export function chatWrapperFor(model: LlamaModel, chatTemplate: string | undefined): ChatWrapper | undefined {
  if (chatTemplate === undefined) return undefined;
  if (isJinjaTemplate(chatTemplate)) {
    try {
      // "auto" with a template still prefers a specialized wrapper whose output matches it (native tool calls).
      return resolveChatWrapper(model, {
        customWrapperSettings: { jinjaTemplate: { template: chatTemplate } },
        fallbackToOtherWrappersOnJinjaError: false,
        warningLogs: false,
      });
    } catch (err) {
      throw new ChatTemplateError(`The chat template cannot be used: ${(err as Error).message}`);
    }
  }
  const name = specializedChatWrapperTypeNames.find((n) => n === chatTemplate);
  if (!name)
    throw new ChatTemplateError(
      `Unknown chat template '${chatTemplate}'. Use one of ${specializedChatWrapperTypeNames.join(", ")}, or Jinja text.`,
    );
  return resolveChatWrapper(model, { type: name, warningLogs: false });
}
