/**
 * OpenAPI description of the management routes that are not history (models, downloads,
 * providers, settings), from the zod schemas that validate their bodies; spread into the
 * document in server/openapi.ts. Their answers are described in words and in api/README.md,
 * where no zod schema owns them.
 */
import { z } from "zod";
import { ProviderCreateSchema, ProviderTestResultSchema, ProviderUpdateSchema } from "../providers/provider-config.js";
import { DownloadRequestSchema, ModelSettingsSchema } from "../wire/models.js";
import { ImportModelBody, LoadModelBody } from "./models.js";
import { SettingsPatchSchema } from "./settings.js";

const body = (schema: z.ZodType) => ({ content: { "application/json": { schema } } });
const ok = (description: string, schema?: z.ZodType) => ({
  "200": schema ? { description, content: { "application/json": { schema } } } : { description },
});
const id = { path: z.object({ id: z.string() }) };
const sse = (description: string) => ({ "200": { description, content: { "text/event-stream": {} } } });

export function managementOpenApiPaths() {
  return {
    "/api/models": {
      get: { summary: "The model library: every local model, its state and facts", responses: ok("The library") },
    },
    "/api/models/rescan": {
      post: { summary: "Scan the model folders again", responses: ok("The library") },
    },
    "/api/models/recommended": {
      get: { summary: "Recommended models to download, with what fits this machine", responses: ok("The list") },
    },
    "/api/models/import": {
      post: {
        summary: "Copy or link a GGUF file into the models folder",
        requestBody: body(ImportModelBody),
        responses: { "201": { description: "The imported model" } },
      },
    },
    "/api/models/downloads": {
      get: { summary: "Downloads, running and finished", responses: ok("The downloads") },
      post: {
        summary: "Start a download (`hf:` URI, Hugging Face repository or URL of a .gguf)",
        requestBody: body(DownloadRequestSchema),
        responses: { "201": { description: "The download" } },
      },
    },
    "/api/models/downloads/events": {
      get: { summary: "Every download's progress, as SSE", responses: sse("A snapshot per change") },
    },
    "/api/models/downloads/{id}": {
      get: { summary: "One download", requestParams: id, responses: ok("The download") },
      delete: { summary: "Cancel a download", requestParams: id, responses: ok("The download, cancelled") },
    },
    "/api/models/downloads/{id}/events": {
      get: {
        summary: "One download's progress, as SSE, ending when it does",
        requestParams: id,
        responses: sse("A snapshot per change"),
      },
    },
    "/api/models/downloads/{id}/pause": {
      post: { summary: "Pause a download", requestParams: id, responses: ok("The download") },
    },
    "/api/models/downloads/{id}/resume": {
      post: { summary: "Resume a paused download", requestParams: id, responses: ok("The download") },
    },
    "/api/models/{id}": {
      get: { summary: "One model of the library", requestParams: id, responses: ok("The model") },
      delete: {
        summary: "Unload a model and delete its files from the models folder",
        requestParams: id,
        responses: { "204": { description: "Deleted" } },
      },
    },
    "/api/models/{id}/load": {
      post: {
        summary: "Load a model now",
        requestParams: id,
        requestBody: body(LoadModelBody),
        responses: ok("Its state"),
      },
    },
    "/api/models/{id}/unload": {
      post: { summary: "Unload a model now", requestParams: id, responses: ok("Its state") },
    },
    "/api/models/{id}/settings": {
      get: { summary: "A model's own settings", requestParams: id, responses: ok("The settings") },
      put: {
        summary: "Change a model's own settings (applied at its next load)",
        requestParams: id,
        requestBody: body(ModelSettingsSchema),
        responses: ok("The settings, and whether a reload is needed"),
      },
    },
    "/api/providers": {
      get: {
        summary: "Remote providers",
        responses: ok('`{object: "list", data: [...]}`: each provider\'s settings (never its key) and status'),
      },
      post: {
        summary: "Add a remote provider (OpenAI-compatible)",
        requestBody: body(ProviderCreateSchema),
        responses: { "201": { description: "The provider's settings (never its key) and status" } },
      },
    },
    "/api/providers/test": {
      post: {
        summary: "Try a provider's settings without saving them",
        requestBody: body(ProviderCreateSchema),
        responses: ok("What the upstream answered", ProviderTestResultSchema),
      },
    },
    "/api/providers/{id}": {
      get: {
        summary: "One provider",
        requestParams: id,
        responses: ok("The provider's settings (never its key) and status"),
      },
      patch: {
        summary: "Change a provider",
        requestParams: id,
        requestBody: body(ProviderUpdateSchema),
        responses: ok("The provider's settings (never its key) and status"),
      },
      delete: {
        summary: "Remove a provider and its secret",
        requestParams: id,
        responses: { "204": { description: "Removed" } },
      },
    },
    "/api/providers/{id}/test": {
      post: {
        summary: "Try a saved provider",
        requestParams: id,
        responses: ok("What the upstream answered", ProviderTestResultSchema),
      },
    },
    "/api/providers/{id}/refresh": {
      post: {
        summary: "List a provider's models again",
        requestParams: id,
        responses: ok("The provider's settings (never its key) and status"),
      },
    },
    "/api/settings": {
      get: { summary: "The running settings and the settings file (secrets left out)", responses: ok("The settings") },
      put: {
        summary: "Save settings to the settings file (they apply at the next start)",
        requestBody: body(SettingsPatchSchema),
        responses: ok("The settings, and which need a restart"),
      },
    },
  };
}
