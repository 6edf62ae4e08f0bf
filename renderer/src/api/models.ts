/** /api/models: the local library, loading, the recommended list, and downloads with live progress. */
import type {
  DownloadRequest,
  DownloadSnapshot,
  GgufFacts,
  LibraryModelView,
  ModelLibraryList,
  ModelSettings,
  RecommendedView,
} from "../../../server/wire/models.js";
import { request, streamJson, type RequestOptions } from "./http.js";

export type {
  DownloadRequest,
  DownloadSnapshot,
  GgufFacts,
  LibraryModelView,
  ModelLibraryList,
  ModelSettings,
  RecommendedView,
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
