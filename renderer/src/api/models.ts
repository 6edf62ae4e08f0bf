/** /api/models: the local library, loading, the recommended list, and downloads with live progress. */
import type { GgufFacts } from "../../../server/engine/gguf-info.js";
import type { DownloadRequest } from "../../../server/models/sources.js";
import type { DownloadSnapshot } from "../../../server/models/downloads.js";
import type { RecommendedModel } from "../../../server/models/recommended.js";
import type { LocalModelState } from "../../../server/providers/local.js";
import type { ModelSettings } from "../../../server/models/model-settings.js";
import { request, streamJson, type RequestOptions } from "./http.js";

export type { DownloadSnapshot, DownloadRequest, GgufFacts, ModelSettings };

/** One model of the library as /api/models describes it (see `view` in server/api/models.ts). */
export interface LibraryModelView {
  id: string;
  file: string;
  files: string[];
  location: "managed" | "folder" | "external";
  folder: string;
  sizeBytes: number;
  modifiedAt: number;
  status: "ok" | "invalid" | "broken";
  error: string | null;
  facts: GgufFacts | null;
  state: LocalModelState;
  loadProgress: number | null;
  loadError: string | null;
  memoryBytes: number | null;
  lastUsedAt: number | null;
  pinned: boolean;
  loaded: {
    contextSize: number;
    parallel: number;
    lanes: number;
    gpuLayers: number;
    trainContextSize: number;
    chatWrapper: string;
    /** The model thinks before it answers (its reasoning can be turned off or up). */
    thinks: boolean;
    busy: number;
    queued: number;
  } | null;
  settings: ModelSettings;
}

export interface ModelLibraryList {
  models: LibraryModelView[];
  remote: { id: string; provider: string; ownedBy: string }[];
  /** The managed models folder and any extra folders, as the server lists them. */
  folders: { path: string; location: "managed" | "folder" }[];
  memory: { budgetBytes: number; usedBytes: number };
}

export type RecommendedView = RecommendedModel & {
  installed: boolean;
  modelId: string | null;
  downloadId: string | null;
  fitsMemory: boolean;
};

const m = (id: string) => `/api/models/${encodeURIComponent(id)}`;
const d = (id: string) => `/api/models/downloads/${encodeURIComponent(id)}`;

export const models = {
  list: (opts?: RequestOptions) => request<ModelLibraryList>("GET", "/api/models", undefined, opts),
  rescan: (opts?: RequestOptions) => request<ModelLibraryList>("POST", "/api/models/rescan", {}, opts),
  recommended: (opts?: RequestOptions) =>
    request<{ models: RecommendedView[] }>("GET", "/api/models/recommended", undefined, opts),
  import: (body: { path: string; mode?: "copy" | "link"; name?: string }, opts?: RequestOptions) =>
    request<LibraryModelView>("POST", "/api/models/import", body, opts),
  remove: (id: string, opts?: RequestOptions) => request<void>("DELETE", m(id), undefined, opts),
  load: (id: string, opts?: RequestOptions) => request<LibraryModelView>("POST", `${m(id)}/load`, {}, opts),
  unload: (id: string, opts?: RequestOptions) => request<LibraryModelView>("POST", `${m(id)}/unload`, {}, opts),
  saveSettings: (id: string, settings: ModelSettings, opts?: RequestOptions) =>
    request<{ id: string; settings: ModelSettings; reloadRequired: boolean }>(
      "PUT",
      `${m(id)}/settings`,
      settings,
      opts,
    ),
};

export const downloads = {
  list: (opts?: RequestOptions) =>
    request<{ downloads: DownloadSnapshot[] }>("GET", "/api/models/downloads", undefined, opts),
  start: (body: DownloadRequest, opts?: RequestOptions) =>
    request<DownloadSnapshot>("POST", "/api/models/downloads", body, opts),
  cancel: (id: string, opts?: RequestOptions) => request<DownloadSnapshot>("DELETE", d(id), undefined, opts),
  pause: (id: string, opts?: RequestOptions) => request<DownloadSnapshot>("POST", `${d(id)}/pause`, {}, opts),
  resume: (id: string, opts?: RequestOptions) => request<DownloadSnapshot>("POST", `${d(id)}/resume`, {}, opts),
  /** Every download's progress as it changes (the current state of each first). */
  events: (opts?: RequestOptions) =>
    streamJson<DownloadSnapshot>("GET", "/api/models/downloads/events", undefined, opts),
};
