/**
 * /api/models: the model library (list, details, import, delete, rescan, load, unload, per-model
 * settings), the recommended list, and downloads with a live progress stream. Handlers validate,
 * call the model manager (models/manager.ts), and format. Shapes: wire/models.ts and
 * server/api/README.md, "Models".
 */
import express from "express";
import { z } from "zod";
import type { ServerContext } from "../context.js";
import { BadRequestError, NotFoundError } from "../errors.js";
import { SseWriter } from "../http/sse.js";
import { parseOrThrow } from "../http/validate.js";
import type { LibraryModel } from "../models/library.js";
import { assertSafeModelName } from "../models/names.js";
import { RECOMMENDED_MODELS } from "../models/recommended.js";
import {
  DownloadRequestSchema,
  ModelSettingsSchema,
  type DownloadSnapshot,
  type LibraryModelView,
  type ModelLibraryList,
  type RecommendedView,
} from "../wire/models.js";
import { LOCAL_PROVIDER_ID } from "../providers/local.js";

export const ImportModelBody = z.object({
  /** Absolute path of a .gguf file (the first part of a split model). */
  path: z.string().min(1).max(4096),
  /** "copy" duplicates the file into the models folder; "link" makes a symbolic link. Defaults to "copy". */
  mode: z.enum(["copy", "link"]).default("copy"),
  /** File name in the models folder. Defaults to the source's name. */
  name: z.string().min(1).max(200).optional(),
});

export const LoadModelBody = z.object({
  /** Keep it loaded however long it stays idle. Defaults to false (the idle timeout applies). */
  pinned: z.boolean().optional(),
});

const DownloadId = z.string().regex(/^dl_[a-f0-9]{16}$/, "must be a download id");

export function createModelsRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const models = ctx.models;

  const view = (m: LibraryModel): LibraryModelView => {
    const state = models.stateOf(m.id);
    const loaded = models.loadedInfo(m.id);
    return {
      id: m.id,
      file: m.file,
      files: m.files,
      location: m.location,
      folder: m.folder,
      sizeBytes: m.sizeBytes,
      modifiedAt: Math.round(m.modifiedAt),
      status: m.status,
      error: m.error ?? null,
      facts: m.facts ?? null,
      state: state.state,
      loadProgress: state.progress ?? null,
      loadError: state.state === "error" ? (state.error ?? null) : null,
      memoryBytes: state.memoryBytes ?? null,
      lastUsedAt: state.lastUsedAt ?? null,
      pinned: state.pinned ?? false,
      loaded: loaded
        ? {
            contextSize: loaded.contextSize,
            parallel: loaded.parallel,
            lanes: loaded.lanes,
            gpuLayers: loaded.gpuLayers,
            trainContextSize: loaded.trainContextSize,
            chatWrapper: loaded.chatWrapper,
            /** The model thinks before it answers (reasoning_effort applies). */
            thinks: loaded.thinks,
            speculative: loaded.speculative,
            busy: loaded.busy,
            queued: loaded.queued,
          }
        : null,
      settings: models.settings.get(m.id),
    };
  };

  const modelById = async (raw: string) => {
    assertSafeModelName(raw, "id");
    await models.library.ready();
    const m = models.library.get(raw.replace(/\.gguf$/i, ""));
    if (!m) throw new NotFoundError(`The model '${raw}' does not exist.`, { param: "id", code: "model_not_found" });
    return m;
  };

  const listBody = async (): Promise<ModelLibraryList> => {
    const remote = (await ctx.router.listModels()).filter((m) => m.provider !== LOCAL_PROVIDER_ID);
    const used = models.states().reduce((sum, s) => sum + (s.state === "loaded" ? (s.memoryBytes ?? 0) : 0), 0);
    return {
      models: models.library.list().map(view),
      remote: remote.map((m) => ({ id: m.id, provider: m.provider, ownedBy: m.ownedBy })),
      folders: models.library.folders,
      memory: { budgetBytes: models.memoryBudget(), usedBytes: used },
    };
  };

  router.get("/models", async (_req, res) => {
    await models.library.ready();
    res.json(await listBody());
  });

  router.post("/models/rescan", async (_req, res) => {
    await models.library.scan();
    res.json(await listBody());
  });

  router.get("/models/recommended", async (_req, res) => {
    await models.library.ready();
    const downloads = await models.downloads.list();
    const budget = models.memoryBudget();
    res.json({
      models: RECOMMENDED_MODELS.map((r): RecommendedView => {
        const installed = models.library
          .list()
          .find(
            (m) =>
              m.status === "ok" && m.files.some((f) => f.endsWith(`/${r.fileName}`) || f.endsWith(`\\${r.fileName}`)),
          );
        const download = downloads.find(
          (d) => d.files.some((f) => f.name === r.fileName) && !["failed", "cancelled", "completed"].includes(d.state),
        );
        return {
          ...r,
          installed: installed !== undefined,
          modelId: installed?.id ?? null,
          downloadId: download?.id ?? null,
          fitsMemory: r.memoryBytes <= budget,
        };
      }),
    });
  });

  router.post("/models/import", async (req, res) => {
    const body = parseOrThrow(ImportModelBody, req.body ?? {});
    const model = await models.library.importFile(body.path, {
      mode: body.mode,
      ...(body.name !== undefined ? { name: body.name } : {}),
    });
    res.status(201).json(view(model));
  });

  // Downloads come before /models/:id so "downloads" is never read as a model id.
  // One route per path holding all its methods, so a wrong method is a 405 naming the right ones.
  router
    .route("/models/downloads")
    .get(async (_req, res) => {
      res.json({ downloads: await models.downloads.list() });
    })
    .post(async (req, res) => {
      const body = parseOrThrow(DownloadRequestSchema, req.body ?? {});
      res.status(201).json(await models.downloads.start(body));
    });

  router.get("/models/downloads/events", async (_req, res) => {
    const initial = await models.downloads.list();
    const sse = new SseWriter(res);
    const onUpdate = (snapshot: DownloadSnapshot) => void sse.send(snapshot);
    models.downloads.on("update", onUpdate);
    res.once("close", () => models.downloads.off("update", onUpdate));
    for (const d of initial) await sse.send(d);
  });

  router
    .route("/models/downloads/:id")
    .get(async (req, res) => {
      res.json(await models.downloads.get(parseOrThrow(DownloadId, req.params.id)));
    })
    .delete(async (req, res) => {
      res.json(await models.downloads.cancel(parseOrThrow(DownloadId, req.params.id)));
    });

  router.get("/models/downloads/:id/events", async (req, res) => {
    const id = parseOrThrow(DownloadId, req.params.id);
    const first = await models.downloads.get(id);
    const sse = new SseWriter(res);
    const terminal = (s: DownloadSnapshot) =>
      s.state === "completed" || s.state === "failed" || s.state === "cancelled";
    const onUpdate = (snapshot: DownloadSnapshot) => {
      if (snapshot.id !== id) return;
      void sse.send(snapshot);
      if (terminal(snapshot)) {
        models.downloads.off("update", onUpdate);
        sse.done();
      }
    };
    await sse.send(first);
    if (terminal(first)) return sse.done();
    models.downloads.on("update", onUpdate);
    res.once("close", () => models.downloads.off("update", onUpdate));
  });

  router.post("/models/downloads/:id/pause", async (req, res) => {
    res.json(await models.downloads.pause(parseOrThrow(DownloadId, req.params.id)));
  });

  router.post("/models/downloads/:id/resume", async (req, res) => {
    res.json(await models.downloads.resume(parseOrThrow(DownloadId, req.params.id)));
  });

  router
    .route("/models/:id")
    .get(async (req, res) => {
      res.json(view(await modelById(req.params.id)));
    })
    .delete(async (req, res) => {
      const model = await modelById(req.params.id);
      await models.deleteModel(model.id);
      res.status(204).end();
    });

  router.post("/models/:id/load", async (req, res) => {
    const model = await modelById(req.params.id);
    if (model.status !== "ok")
      throw new BadRequestError(
        `The model '${model.id}' cannot be loaded: ${model.error ?? "the file is not usable"}`,
        { param: "id", code: "model_unusable" },
      );
    const body = parseOrThrow(LoadModelBody, req.body ?? {});
    const controller = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) controller.abort(new Error("client disconnected"));
    });
    await models.loadById(model.id, {
      ...(body.pinned !== undefined ? { pinned: body.pinned } : {}),
      signal: controller.signal,
    });
    res.json(view(model));
  });

  router.post("/models/:id/unload", async (req, res) => {
    const model = await modelById(req.params.id);
    await models.unload(model.id);
    res.json(view(model));
  });

  router
    .route("/models/:id/settings")
    .get(async (req, res) => {
      const model = await modelById(req.params.id);
      res.json({ id: model.id, settings: models.settings.get(model.id) });
    })
    .put(async (req, res) => {
      const model = await modelById(req.params.id);
      const settings = await models.settings.set(model.id, parseOrThrow(ModelSettingsSchema, req.body ?? {}));
      res.json({ id: model.id, settings, reloadRequired: models.stateOf(model.id).state === "loaded" });
    });

  return router;
}
