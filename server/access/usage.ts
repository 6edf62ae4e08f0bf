/**
 * Where a guarded request's usage goes once its response ended (access/guard.ts `onRequestEnd`):
 * the per-key counters of /metrics, labelled with the key's name (never its secret), and the usage
 * table (history/usage.ts). A key's requests on the inference routes are all counted; otherwise only
 * those that generated (the app's own chats), so the UI's model lists, management calls and
 * /metrics polls do not drown what people and tools used.
 */
import type { UsageStore } from "../history/usage.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { RequestUsage } from "./guard.js";

export function usageRecorder(deps: {
  metrics: Metrics;
  usage: Pick<UsageStore, "add">;
  logger: Pick<Logger, "warn">;
  now?: () => number;
}): (u: RequestUsage) => void {
  const now = deps.now ?? Date.now;
  let warned = false;
  return (u) => {
    if (u.limited) deps.metrics.keyRateLimited.inc({ key: u.principal.name });
    // Without a generation, only a key's own requests count: not the app's model lists and polls.
    const builtIn = u.principal.id === "app" || u.principal.id === "local";
    if (u.model === "" && (u.scope !== "inference" || builtIn)) return;
    const key = u.principal.name;
    deps.metrics.keyRequests.inc({ key });
    if (u.errors > 0) deps.metrics.keyErrors.inc({ key });
    if (u.promptTokens > 0) deps.metrics.keyTokens.inc({ key, kind: "prompt" }, u.promptTokens);
    if (u.completionTokens > 0) deps.metrics.keyTokens.inc({ key, kind: "completion" }, u.completionTokens);
    if (u.reasoningTokens > 0) deps.metrics.keyTokens.inc({ key, kind: "reasoning" }, u.reasoningTokens);
    try {
      deps.usage.add({
        keyId: u.principal.id,
        keyName: u.principal.name,
        model: u.model,
        promptTokens: u.promptTokens,
        completionTokens: u.completionTokens,
        reasoningTokens: u.reasoningTokens,
        errors: u.errors,
        at: now(),
      });
    } catch (err) {
      // The response is already out; a full disk must not break serving. Said once, not per request.
      if (!warned) deps.logger.warn({ err }, "usage: could not record a request's usage");
      warned = true;
    }
  };
}
