/** /api/keys, /api/usage and /api/network (shapes: server/wire/access.ts). */
import type {
  CreatedKey,
  KeyCreate,
  KeyInfo,
  KeyList,
  KeyScope,
  NetworkView,
  UsageReport,
  UsageRow,
} from "../../../server/wire/access.js";
import { request, type RequestOptions } from "./http.js";

export type { CreatedKey, KeyCreate, KeyInfo, KeyScope, NetworkView, UsageReport, UsageRow };

export const keys = {
  list: (opts?: RequestOptions) => request<KeyList>("GET", "/api/keys", undefined, opts),
  create: (body: KeyCreate, opts?: RequestOptions) => request<CreatedKey>("POST", "/api/keys", body, opts),
  revoke: (id: string, opts?: RequestOptions) =>
    request<{ id: string; name: string; deleted: true }>(
      "DELETE",
      `/api/keys/${encodeURIComponent(id)}`,
      undefined,
      opts,
    ),
};

export const usage = {
  /** The last `days` days (UTC) up to today. */
  get: (days: number, opts?: RequestOptions) => {
    const to = new Date().toISOString().slice(0, 10);
    const from = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    return request<UsageReport>("GET", "/api/usage", undefined, { ...opts, query: { from, to } });
  },
  csvPath: (days: number) => {
    const to = new Date().toISOString().slice(0, 10);
    const from = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    return `/api/usage?format=csv&from=${from}&to=${to}`;
  },
};

export const network = {
  get: (opts?: RequestOptions) => request<NetworkView>("GET", "/api/network", undefined, opts),
};
