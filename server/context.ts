/** What every route and service of one server instance shares; built by `createServer`. */
import type { ChatService } from "./chat/service.js";
import type { Config } from "./config.js";
import type { History } from "./history/index.js";
import type { Logger } from "./logger.js";
import type { McpRegistry } from "./mcp/registry.js";
import type { Metrics } from "./metrics.js";
import type { ModelManager } from "./models/manager.js";
import type { ProviderStore } from "./providers/provider-store.js";
import type { ProviderRouter } from "./providers/router.js";

export interface ServerContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly router: ProviderRouter;
  /** Local models: library, downloads, settings, and each model's lifecycle (models/manager.ts). */
  readonly models: ModelManager;
  /** Remote providers: configs, secrets, and their registration with `router` (issue #5). */
  readonly providers: ProviderStore;
  /** Conversations, search and the recorder (server/history). */
  readonly history: History;
  /** MCP servers whose tools the app's chats use: configs, secrets, connections (server/mcp/). */
  readonly mcp: McpRegistry;
  /** The generation pipeline every chat, completion, response and message runs on. */
  readonly chat: ChatService;
  /** True once start-up finished (the configured model, if any, is loaded). */
  ready: boolean;
  /** True once shutdown began: new work gets 503. */
  draining: boolean;
}
