/**
 * `createServer(config)` builds one complete Hearth server from its parts, with no globals, so
 * tests run real servers in a few lines and two can live in one process (docs/ARCHITECTURE.md).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import express from "express";
import { pinoHttp } from "pino-http";
import { isLoopbackHost, type Config } from "./config.js";
import { ChatService } from "./chat/service.js";
import type { ServerContext } from "./context.js";
import { resolveModelPath } from "./engine/resolve-model.js";
import type { EngineRuntime } from "./engine/runtime.js";
import { NotReadyError, ShuttingDownError } from "./errors.js";
import { createApiRouter } from "./api/index.js";
import { openHistory } from "./history/index.js";
import { createMcpRouter } from "./history-mcp/http.js";
import { addMethodNotAllowed } from "./http/method-not-allowed.js";
import { createErrorHandler, notFoundHandler } from "./http/error-handler.js";
import { labelRoutes, routeLabelOf } from "./http/route-label.js";
import { loopGuard } from "./http/loop-guard.js";
import { apiKeyAuth, corsPolicy, hostCheck, requestOriginGuard } from "./http/security.js";
import { createLogger, type Logger } from "./logger.js";
import { Metrics, OTHER_MODEL } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { createOpenAIRouter } from "./openai/routes.js";
import { anthropicErrors, createMessagesRouter } from "./anthropic/routes.js";
import { newInstanceId } from "./providers/hops.js";
import { LocalProvider } from "./providers/local.js";
import { ModelManager } from "./models/manager.js";
import { ProviderStore } from "./providers/provider-store.js";
import { ProviderRouter } from "./providers/router.js";
import { FileSecretStore } from "./secrets/file-secret-store.js";
import type { SecretStore } from "./secrets/secret-store.js";
import { ownParentPort } from "./util/child-input.js";
import { nodeChildSpawner, parentPortSpawner, type ChildSpawner } from "./util/disposable-child.js";
import { PACKAGE_ROOT, VERSION } from "./version.js";

const repoRoot = PACKAGE_ROOT;
export { VERSION };

/** The path a request asked for (`originalUrl`: routers mounted on a prefix rewrite `url`), without its query. */
const pathOf = (req: { url?: string; originalUrl?: string }) => (req.originalUrl ?? req.url ?? "").split("?")[0];

export interface CreateServerOptions {
  /** A logger to use instead of one made from `config.logLevel`. */
  logger?: Logger;
  /**
   * Where remote providers' API keys are kept. Defaults to `<data-dir>/secrets.json` (mode 0600).
   * The seam for the OS keychain: the Electron shell can pass a safeStorage-backed store here.
   */
  secrets?: SecretStore;
  /** Limits on how clients send requests; tests shorten them. Defaults to HTTP_TIMEOUTS. */
  httpTimeouts?: Partial<HttpTimeouts>;
  /**
   * Where model load-check verdicts are kept (engine/load-probe.ts). Defaults to
   * `<data-dir>/model-checks.json`. Tests share one file across their servers, so each new data
   * dir does not check the test model again.
   */
  modelChecksFile?: string;
  /**
   * Starts the disposable processes of the load probe and the chat-template checker
   * (util/disposable-child.ts). Defaults to what `config.childProcesses` says: this process's own
   * children, or the parent's (the desktop app's main process) over the parent port.
   */
  children?: ChildSpawner;
}

/** How long a client may take to send a request. Replies (SSE streams) are not limited by these. */
export interface HttpTimeouts {
  /** Milliseconds to receive a request's headers from when the connection opens or the last request ended. */
  headersMs: number;
  /** Milliseconds to receive a whole request, body included. */
  requestMs: number;
  /** Milliseconds an idle keep-alive connection is kept open. */
  keepAliveMs: number;
  /** How often connections are checked against the two limits above (Node's default is 30 s). */
  checkIntervalMs: number;
}

export const HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 30_000,
  requestMs: 60_000,
  keepAliveMs: 5_000,
  checkIntervalMs: 5_000,
};

export interface HearthServer {
  readonly context: ServerContext;
  readonly app: express.Express;
  /** Binds, then loads the configured model; resolves with the base URL once ready to serve. */
  start(): Promise<string>;
  /** The base URL (`http://127.0.0.1:<port>`), once listening. */
  readonly url: string;
  /** Stops accepting, gives in-flight requests the grace period, cancels the rest, frees the model. */
  close(): Promise<void>;
}

/**
 * `text` with every absolute file path cut to its last part ("open '/home/me/models/x.gguf'" ->
 * "open 'x.gguf'"); URLs are left alone.
 */
export function withoutPaths(text: string): string {
  return text.replace(/(?<![\w:/.\\-])(?:[A-Za-z]:)?[\\/](?:[^\s'"`\\/]+[\\/])+(?=[^\s'"`\\/])/g, "");
}

/** Who starts this server's disposable processes (config `childProcesses`). */
function childSpawnerFor(config: Config, logger: Logger): ChildSpawner {
  if (config.childProcesses === "parent") {
    const port = ownParentPort();
    if (port) return parentPortSpawner(port);
    logger.warn("HEARTH_CHILD_PROCESSES=parent, but this process has no parent port; starting helper processes itself");
  }
  return nodeChildSpawner();
}

export function createServer(config: Config, options: CreateServerOptions = {}): HearthServer {
  const logger = options.logger ?? createLogger(config.logLevel);
  // History, settings and secrets live here: a data folder Hearth creates is its owner's alone.
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Generations are labelled by model only for models this server knows (local files, or what a
  // provider is known to serve): clients choose the names.
  const metrics = new Metrics({
    modelLabel: async (model) =>
      providers.knows(model) || (await models.has(model).catch(() => false)) ? model : OTHER_MODEL,
  });
  /** Sent upstream and checked on the way in, so a provider that leads back here is refused (providers/hops.ts). */
  const instanceId = newInstanceId();
  let listening: AddressInfo | null = null;
  const models = new ModelManager({
    gpu: config.gpu,
    threads: config.threads,
    batchThreads: config.batchThreads,
    lanes: config.lanes,
    engineBinary: config.engineBinary,
    parallel: config.parallel,
    ctxSize: config.ctxSize,
    maxQueue: config.maxQueue,
    defaultMaxTokens: config.defaultMaxTokens,
    logger,
    onPoolChange: (model, stats) => {
      metrics.queueDepth.set({ model }, stats.queued);
      metrics.busySequences.set({ model }, stats.busy);
      metrics.totalSequences.set({ model }, stats.size);
    },
    modelsDir: path.join(config.dataDir, "models"),
    extraModelDirs: config.modelDirs,
    idleTimeoutSeconds: config.modelIdleTimeout,
    memoryBudgetBytes: config.modelMemoryMb * 1024 * 1024,
    loadWaitSeconds: config.modelLoadTimeout,
    settingsFile: path.join(config.dataDir, "model-settings.json"),
    loadCheckFile: options.modelChecksFile ?? path.join(config.dataDir, "model-checks.json"),
    children: options.children ?? childSpawnerFor(config, logger),
    hfEndpoint: config.hfEndpoint,
    ...(config.hfToken ? { hfToken: config.hfToken } : {}),
    ...(config.chatTemplate !== undefined ? { chatTemplate: config.chatTemplate } : {}),
    speculative: {
      promptLookup: config.promptLookup,
      draftMax: config.draftMax,
      ...(config.draftModel !== undefined ? { draftModel: config.draftModel } : {}),
    },
    onModelState: (model, info) => metrics.setModelState(model, info.state, info.memoryBytes ?? 0),
  });
  const local = new LocalProvider(models);
  const router = new ProviderRouter();
  router.add(local);
  const secrets =
    options.secrets ??
    new FileSecretStore({
      file: path.join(config.dataDir, "secrets.json"),
      logger,
      ...(config.secretsKey ? { key: Buffer.from(config.secretsKey, "base64") } : {}),
    });
  const providers = new ProviderStore({
    dataDir: config.dataDir,
    secrets,
    router,
    logger,
    remote: { userAgent: `Hearth/${VERSION}`, instanceId },
    self: () => listening,
  });
  const history = openHistory({ dataDir: config.dataDir, apiRetentionDays: config.apiRetentionDays, logger });
  const ctx: ServerContext = {
    config,
    logger,
    metrics,
    router,
    models,
    providers,
    history,
    chat: new ChatService({ config, router, metrics, history, logger }),
    ready: false,
    draining: false,
  };

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : crypto.randomUUID();
        res.setHeader("X-Request-ID", id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url?.startsWith("/health") ?? false },
      // The path, never the query string: it holds search terms, export filters and keys clients put
      // in URLs (`?api_key=`), and the desktop app keeps these lines in logs/server.log.
      customSuccessMessage: (req, res, ms) => `${req.method} ${pathOf(req)} ${res.statusCode} ${Math.round(ms)}ms`,
      serializers: {
        req: (req: { method: string; url: string; originalUrl?: string }) => ({ method: req.method, url: pathOf(req) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    }),
  );
  // Responses not yet finished, so shutdown can let their last bytes out before closing sockets.
  const inFlight = new Set<express.Response>();
  app.use((req, res, next) => {
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
    res.on("finish", () => {
      const route = routeLabelOf(req);
      metrics.requests.inc({ route, status: String(res.statusCode) });
      if (res.statusCode >= 400) metrics.errors.inc({ route, status: String(res.statusCode) });
    });
    next();
  });
  app.use(loopGuard(instanceId));
  app.use(hostCheck(config));
  app.use(corsPolicy(config));
  app.use(requestOriginGuard(config));

  app.get("/health/live", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/health/ready", (_req, res) => {
    // Open without a key, like /health: a load error names files, never where they are (withoutPaths).
    const states = models.states().map((s) => (s.error ? { ...s, error: withoutPaths(s.error) } : s));
    const ok = ctx.ready && !ctx.draining;
    res
      .status(ok ? 200 : 503)
      .json({ status: ok ? "ready" : ctx.draining ? "shutting_down" : "starting", models: states });
  });
  app.get("/health", async (_req, res) => {
    const runtime = models.loaded().length > 0 ? await models.getRuntime() : null;
    res.json({
      status: ctx.ready ? "ok" : "starting",
      version: VERSION,
      engine: runtime ? await engineHealth(runtime) : null,
      // /health answers without a key (supervisors probe it): file names, never where they are on disk.
      models: models.loaded().map((m) => {
        const { path: file, ...info } = m.info;
        return { ...info, file: path.basename(file), ...m.stats };
      }),
    });
  });
  app.get("/openapi.json", (_req, res) => {
    res.json(openApiDocument(VERSION));
  });

  const auth = apiKeyAuth(config.apiKey, config.uiToken);
  app.get("/metrics", auth, async (_req, res) => {
    res.setHeader("Content-Type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });

  const json = express.json({ limit: config.bodyLimit, type: ["application/json", "application/*+json"] });
  const gate: express.RequestHandler = (_req, _res, next) => {
    if (ctx.draining) return next(new ShuttingDownError());
    if (!ctx.ready) return next(new NotReadyError("The server is still starting; try again in a moment."));
    next();
  };
  // Management (history, models, settings) must work while a model is still loading.
  const drainingGate: express.RequestHandler = (_req, _res, next) =>
    next(ctx.draining ? new ShuttingDownError() : undefined);
  app.use("/v1/messages", anthropicErrors, auth, gate, json, createMessagesRouter(ctx));
  app.use("/v1", auth, gate, json, createOpenAIRouter(ctx));
  app.use("/api", auth, drainingGate, json, createApiRouter(ctx));
  // The history as an MCP server (server/history-mcp/): read-only, behind the same guards as /api.
  app.use("/mcp", auth, drainingGate, json, createMcpRouter({ history: history.store, version: VERSION }));

  const uiDir = config.uiDir ?? path.join(repoRoot, "dist", "renderer");
  if (fs.existsSync(path.join(uiDir, "index.html"))) {
    app.use(
      express.static(uiDir, {
        index: "index.html",
        maxAge: "1h",
        setHeaders: (res, file) => {
          if (file.endsWith("index.html")) res.setHeader("Cache-Control", "no-cache");
        },
      }),
    );
    app.get("/{*splat}", (req, res, next) => {
      if (["/v1", "/api", "/mcp"].some((p) => req.path.startsWith(p)) || !req.accepts("html")) return next();
      res.sendFile(path.join(uiDir, "index.html"));
    });
  } else {
    app.get("/", (_req, res) => {
      res
        .type("text/plain")
        .send("Hearth server is running. The UI is not built: run `npm run build` to serve it here.\n");
    });
  }
  addMethodNotAllowed((app as unknown as { router: Parameters<typeof addMethodNotAllowed>[0] }).router);
  labelRoutes((app as unknown as { router: Parameters<typeof labelRoutes>[0] }).router);
  app.use(notFoundHandler);
  app.use(createErrorHandler(logger));

  let httpServer: http.Server | null = null;
  let closing: Promise<void> | null = null;
  let url = "";

  return {
    context: ctx,
    app,
    get url() {
      return url;
    },
    async start() {
      const limits = { ...HTTP_TIMEOUTS, ...options.httpTimeouts };
      // Slow-drip clients must not hold a socket forever; SSE replies are not affected (requestTimeout covers receiving only).
      const s = http.createServer(
        {
          headersTimeout: limits.headersMs,
          requestTimeout: limits.requestMs,
          keepAliveTimeout: limits.keepAliveMs,
          connectionsCheckingInterval: limits.checkIntervalMs,
        },
        app,
      );
      httpServer = await new Promise<http.Server>((resolve, reject) => {
        s.once("error", reject);
        s.listen(config.port, config.host, () => resolve(s));
      });
      const address = httpServer.address() as AddressInfo;
      listening = address;
      const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
      url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${address.port}`;
      if (!isLoopbackHost(config.host) && !config.apiKey)
        logger.warn(
          { host: config.host, port: address.port },
          `INSECURE: listening on ${config.host} without an API key (--insecure): anyone who can reach this address can use Hearth, read its history and manage its models`,
        );
      if (config.corsOrigins.includes("*"))
        logger.warn("CORS allows every origin (*): any web page this browser opens can call Hearth");
      // The library is listed in the background; requests that name a model wait for the first scan.
      void models.library.ready().catch((err: unknown) => logger.warn({ err }, "model library scan failed"));
      // Remote models are discovered in the background: a slow or dead provider never delays start-up.
      await providers.load();
      void providers.refreshAll();
      // Asking for the local build is a promise about speed: without one, say so at start, not at the first load.
      if (config.engineBinary === "local") await models.getRuntime();
      if (config.model) {
        const file = await resolveModelPath(config.model, {
          modelsDir: path.join(config.dataDir, "models"),
          ...(config.hfToken ? { hfToken: config.hfToken } : {}),
          onProgress: (done, total) => logger.info({ downloaded: done, total }, "downloading model"),
        });
        await models.load(file, (p) => logger.debug({ progress: p }, "loading model"));
        const runtime = await models.getRuntime();
        metrics.engineInfo.set(
          {
            build: runtime.buildType,
            variant: runtime.variant,
            gpu: String(runtime.gpu),
            threads: String(runtime.threads),
            lanes: String(runtime.lanes),
          },
          1,
        );
        for (const m of models.loaded()) metrics.modelState.set({ model: m.info.id }, 1);
        logger.info({ ...engineSummary(runtime), parallel: models.loaded()[0]?.info.parallel }, "engine ready");
      }
      ctx.ready = true;
      return url;
    },
    close() {
      closing ??= (async () => {
        // Draining: new requests get 503 (the listener stays open so clients learn why) while
        // running generations get the grace period, then end with a final error event.
        ctx.draining = true;
        httpServer?.closeIdleConnections();
        await models.close(config.shutdownGrace * 1000);
        await providers.close();
        for (const p of router.list()) if (p !== local) await p.close();
        const closed = httpServer?.listening
          ? new Promise<void>((resolve) => httpServer!.close(() => resolve()))
          : Promise.resolve();
        // Cancelled streams write their final error event after the engine let go of them.
        const deadline = Date.now() + 2000;
        while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        httpServer?.closeAllConnections();
        await closed;
        history.close();
        logger.flush();
      })();
      return closing;
    },
  };
}

/** The engine as /health and the start-up log describe it. */
function engineSummary(runtime: EngineRuntime) {
  return {
    build: runtime.buildType,
    variant: runtime.variant,
    gpu: runtime.gpu,
    threads: runtime.threads,
    batchThreads: runtime.batchThreads,
    lanes: runtime.lanes,
  };
}

/** /health's engine: the summary, and with a GPU its devices and VRAM now (what a GPU run is checked against). */
async function engineHealth(runtime: EngineRuntime) {
  if (runtime.gpu === false) return { ...engineSummary(runtime), gpuDevices: [], vram: null };
  const [gpuDevices, vram] = await Promise.all([runtime.llama.getGpuDeviceNames(), runtime.llama.getVramState()]);
  return { ...engineSummary(runtime), gpuDevices, vram: { totalBytes: vram.total, freeBytes: vram.free } };
}
