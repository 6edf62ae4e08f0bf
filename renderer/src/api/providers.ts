/** /api/providers: remote OpenAI-compatible providers. API keys and header values only ever travel to the server. */
import type {
  ProviderCreate,
  ProviderTestResult,
  ProviderUpdate,
  ProviderView,
} from "../../../server/wire/providers.js";
import { request, type RequestOptions } from "./http.js";

export type { ProviderCreate, ProviderTestResult, ProviderUpdate, ProviderView };
export { PROVIDER_KINDS } from "./provider-kinds.js";

const p = (id: string) => `/api/providers/${encodeURIComponent(id)}`;

/** Input shape before the server applies its defaults. */
export type ProviderInput = Omit<ProviderCreate, "timeoutSeconds" | "discover" | "models"> & {
  timeoutSeconds?: number;
  discover?: boolean;
  models?: string[];
};

export const providers = {
  list: (opts?: RequestOptions) =>
    request<{ object: "list"; data: ProviderView[] }>("GET", "/api/providers", undefined, opts),
  add: (body: ProviderInput, opts?: RequestOptions) => request<ProviderView>("POST", "/api/providers", body, opts),
  update: (id: string, body: ProviderUpdate, opts?: RequestOptions) =>
    request<ProviderView>("PATCH", p(id), body, opts),
  remove: (id: string, opts?: RequestOptions) => request<void>("DELETE", p(id), undefined, opts),
  test: (id: string, opts?: RequestOptions) => request<ProviderTestResult>("POST", `${p(id)}/test`, {}, opts),
  /** Tests settings before saving them. */
  testUnsaved: (body: ProviderInput, opts?: RequestOptions) =>
    request<ProviderTestResult>("POST", "/api/providers/test", body, opts),
  refresh: (id: string, opts?: RequestOptions) => request<ProviderView>("POST", `${p(id)}/refresh`, {}, opts),
};
