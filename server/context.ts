/** What every route and service of one server instance shares; built by `createServer`. */
import type { Config } from "./config.js";
import type { History } from "./history/index.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { LocalProvider } from "./providers/local.js";
import type { ProviderStore } from "./providers/provider-store.js";
import type { ProviderRouter } from "./providers/router.js";
import type { ChatRequest, GenerationStream } from "./core/types.js";

export interface ChatObserverMeta {
  requestId: string;
  provider: string;
  /** "api" for /v1 traffic, "ui" for the app's own chats. */
  source: "api" | "ui";
}

/** Observes a chat's events on their way to the client (the history recorder); yields them unchanged. */
export type ChatObserver = (request: ChatRequest, stream: GenerationStream, meta: ChatObserverMeta) => GenerationStream;

export interface ServerContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly router: ProviderRouter;
  readonly local: LocalProvider;
  /** Remote providers: configs, secrets, and their registration with `router` (issue #5). */
  readonly providers: ProviderStore;
  /** Conversations, search and the recorder (server/history). */
  readonly history: History;
  /** Set by the history module when /v1 recording is on. */
  observeApiChat: ChatObserver | null;
  /** True once start-up finished (the configured model, if any, is loaded). */
  ready: boolean;
  /** True once shutdown began: new work gets 503. */
  draining: boolean;
}
