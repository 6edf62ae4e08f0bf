/**
 * The chat template a local model is run with. By default node-llama-cpp picks one from the GGUF's
 * own Jinja template, its name or its architecture (docs/ENGINE-NOTES.md §3.1); the `chatTemplate` setting
 * overrides that with a wrapper name (`chatML`, `llama3.1`...) or a Jinja template, e.g. for a model
 * shipped without one, or to get a template that knows tools.
 */
import {
  GeneralChatWrapper,
  JinjaTemplateChatWrapper,
  resolveChatWrapper,
  specializedChatWrapperTypeNames,
  type ChatWrapper,
  type LlamaModel,
} from "node-llama-cpp";
import { isJinjaTemplate } from "../config.js";
import type { ChildSpawner } from "../util/disposable-child.js";
import { checkChatTemplate } from "./template-guard.js";

export class ChatTemplateError extends Error {}

/**
 * The wrapper node-llama-cpp would choose if the file had no template (by name, BOS string and
 * architecture), for a model whose own template was refused: resolving with the template would
 * render it.
 */
function wrapperIgnoringTemplate(model: LlamaModel): ChatWrapper {
  const metadata = model.fileInfo.metadata;
  const fileInfo = {
    ...model.fileInfo,
    metadata: { ...metadata, tokenizer: { ...metadata.tokenizer, chat_template: undefined } },
  };
  return (
    resolveChatWrapper({
      bosString: model.tokens.bosString,
      architecture: metadata.general?.architecture,
      filename: model.filename,
      fileInfo: fileInfo as typeof model.fileInfo,
      tokenizer: model.tokenizer,
      warningLogs: false,
      noJinja: true,
    }) ?? new GeneralChatWrapper()
  );
}

export interface ChosenTemplate {
  /** Undefined lets node-llama-cpp choose ("auto"). */
  wrapper: ChatWrapper | undefined;
  /** How the Jinja template in use ends a prompt (template-guard.ts), when one is in use. */
  promptEnd?: string;
}

/** True when node-llama-cpp can build a Jinja wrapper from `template` (it test-renders it), else the error. */
function sanityRenders(model: LlamaModel, template: string): true | string {
  try {
    new JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer });
    return true;
  } catch (err) {
    return ((err as Error).message ?? String(err)).replace(/^Error: /, "").slice(0, 300);
  }
}

/**
 * The wrapper for `chatTemplate`. Every Jinja
 * template, the file's own included, is first rendered in a bounded checker (template-guard.ts):
 * a refused own template falls back to a wrapper chosen without it (`onRefused` says why); a
 * refused configured one throws ChatTemplateError, as does any other bad template. `children`
 * starts the checker's process (defaults to a child of this process).
 */
export async function chatWrapperFor(
  model: LlamaModel,
  chatTemplate: string | undefined,
  onRefused?: (reason: string) => void,
  children?: ChildSpawner,
): Promise<ChosenTemplate> {
  const checking = children ? { children } : {};
  if (chatTemplate === undefined) {
    const own = model.fileInfo.metadata.tokenizer?.chat_template;
    if (typeof own !== "string" || own.trim() === "") return { wrapper: undefined };
    const verdict = await checkChatTemplate(own, checking);
    if (!verdict.ok) {
      onRefused?.(verdict.reason);
      return { wrapper: wrapperIgnoringTemplate(model) };
    }
    // A template that parses but fails node-llama-cpp's sanity renders (one that raises on every
    // chat) would be dropped by node-llama-cpp with a console message only: say why in our log.
    const renders = sanityRenders(model, own);
    if (renders !== true) {
      onRefused?.(`it fails to render a plain chat (${renders})`);
      return { wrapper: wrapperIgnoringTemplate(model) };
    }
    return { wrapper: resolveChatWrapper(model, { warningLogs: false }), promptEnd: verdict.promptEnd };
  }
  if (isJinjaTemplate(chatTemplate)) {
    const verdict = await checkChatTemplate(chatTemplate, checking);
    if (!verdict.ok) throw new ChatTemplateError(`The chat template cannot be used: ${verdict.reason}.`);
    try {
      // "auto" with a template still prefers a specialized wrapper whose output matches it (native tool calls).
      return {
        wrapper: resolveChatWrapper(model, {
          customWrapperSettings: { jinjaTemplate: { template: chatTemplate } },
          fallbackToOtherWrappersOnJinjaError: false,
          warningLogs: false,
        }),
        promptEnd: verdict.promptEnd,
      };
    } catch (err) {
      throw new ChatTemplateError(`The chat template cannot be used: ${(err as Error).message}`);
    }
  }
  const name = specializedChatWrapperTypeNames.find((n) => n === chatTemplate);
  if (!name)
    throw new ChatTemplateError(
      `Unknown chat template '${chatTemplate}'. Use one of ${specializedChatWrapperTypeNames.join(", ")}, or Jinja text.`,
    );
  return { wrapper: resolveChatWrapper(model, { type: name, warningLogs: false }) };
}
