/**
 * Hearth's models as Ollama describes them (`/api/tags`, `/api/show`, `/api/ps`): the names are
 * the ids of /v1/models (local files and `<provider>/<model>` of remote providers); the details
 * come from the GGUF header for local models and are empty for remote ones, whose files Hearth
 * never sees. A client's `name:latest` finds the model `name`, as Ollama's default tag.
 */
import crypto from "node:crypto";
import type { z } from "zod";
import type { ServerContext } from "../context.js";
import type { ModelInfo, Provider } from "../core/types.js";
import { ModelNotFoundError } from "../errors.js";
import type { LibraryModel } from "../models/library.js";
import { LOCAL_PROVIDER_ID } from "../providers/local.js";
import type { ModelDetailsSchema, PsResponseSchema, ShowResponseSchema, TagsResponseSchema } from "./schemas.js";

type Details = z.infer<typeof ModelDetailsSchema>;

const LATEST = ":latest";

/** The model a client named, as Hearth knows it (without Ollama's `:latest`), and its provider. */
export async function resolveModel(ctx: ServerContext, name: string): Promise<{ model: string; provider: Provider }> {
  try {
    return { model: name, provider: await ctx.chat.resolve(name) };
  } catch (err) {
    if (!(err instanceof ModelNotFoundError) || !name.endsWith(LATEST)) throw err;
    const bare = name.slice(0, -LATEST.length);
    return { model: bare, provider: await ctx.chat.resolve(bare) };
  }
}

/** "7.6B", "260K": Ollama's parameter_size. */
function parameterSize(n: number): string {
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [size, unit] of units)
    if (n >= size) return `${Number((n / size).toFixed(n >= size * 100 ? 0 : 1))}${unit}`;
  return String(n);
}

/** Not a hash of the bytes (reading a 20 GB file for a list is too slow): it changes when the file does. */
function digestOf(id: string, model: LibraryModel | undefined): string {
  const key = model ? `${id}:${model.sizeBytes}:${model.modifiedAt}` : id;
  return crypto.createHash("sha256").update(key).digest("hex");
}

function detailsOf(model: LibraryModel | undefined): Details {
  const facts = model?.facts;
  return {
    parent_model: "",
    format: model ? "gguf" : "",
    family: facts?.architecture ?? "",
    families: facts ? [facts.architecture] : null,
    parameter_size: facts ? parameterSize(facts.parameters) : "",
    quantization_level: facts?.quantization ?? "",
  };
}

const libraryModel = (ctx: ServerContext, info: ModelInfo) =>
  info.provider === LOCAL_PROVIDER_ID ? ctx.models.library.get(info.id) : undefined;

export async function tags(ctx: ServerContext): Promise<z.infer<typeof TagsResponseSchema>> {
  const models = await ctx.router.listModels();
  return {
    models: models.map((info) => {
      const model = libraryModel(ctx, info);
      return {
        name: info.id,
        model: info.id,
        modified_at: new Date(model?.modifiedAt ?? info.created * 1000).toISOString(),
        size: model?.sizeBytes ?? 0,
        digest: digestOf(info.id, model),
        details: detailsOf(model),
      };
    }),
  };
}

export async function show(ctx: ServerContext, name: string): Promise<z.infer<typeof ShowResponseSchema>> {
  const { model: id, provider } = await resolveModel(ctx, name);
  const info = (await provider.listModels()).find((m) => m.id === id);
  const model = info ? libraryModel(ctx, info) : undefined;
  const facts = model?.facts;
  const arch = facts?.architecture;
  const loaded = ctx.models.loadedInfo(id);
  const capabilities =
    provider.id !== LOCAL_PROVIDER_ID
      ? ["completion", "tools"]
      : [
          ...(facts?.kind === "llm" ? ["completion", "tools"] : []),
          ...(facts?.supportsEmbeddings ? ["embedding"] : []),
          ...(loaded?.thinks ? ["thinking"] : []),
        ];
  return {
    modelfile: "",
    parameters: "",
    template: "",
    details: detailsOf(model),
    model_info: facts
      ? {
          "general.architecture": facts.architecture,
          ...(facts.name ? { "general.basename": facts.name } : {}),
          "general.parameter_count": facts.parameters,
          ...(facts.trainContextSize !== null ? { [`${arch}.context_length`]: facts.trainContextSize } : {}),
          ...(facts.embeddingLength !== null ? { [`${arch}.embedding_length`]: facts.embeddingLength } : {}),
          [`${arch}.block_count`]: facts.layers,
        }
      : {},
    capabilities,
    modified_at: new Date(model?.modifiedAt ?? (info?.created ?? 0) * 1000).toISOString(),
  };
}

/** Loaded local models (remote ones are never "running" here). */
export function ps(ctx: ServerContext): z.infer<typeof PsResponseSchema> {
  return {
    models: ctx.models.loaded().map((m) => {
      const model = ctx.models.library.get(m.info.id);
      const size = ctx.models.stateOf(m.info.id).memoryBytes ?? m.info.sizeBytes;
      const expires = ctx.models.expiresAt(m.info.id);
      return {
        name: m.info.id,
        model: m.info.id,
        size,
        digest: digestOf(m.info.id, model),
        details: detailsOf(model),
        // Busy, pinned or kept forever: Ollama says "far in the future" the same way.
        expires_at: new Date(expires ?? Date.UTC(2318, 0, 1)).toISOString(),
        size_vram: m.info.gpuLayers > 0 ? size : 0,
        context_length: m.info.contextSize,
      };
    }),
  };
}
