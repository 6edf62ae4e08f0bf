/**
 * Configuration: one zod schema, three sources. Precedence is command line > HEARTH_* environment
 * variables > settings file (`<data-dir>/settings.json` or `--config`) > defaults. This is the only
 * module that reads `process.env`; the parsed config is frozen and passed down.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";

export const GPU_CHOICES = ["auto", "cpu", "cuda", "vulkan", "metal"] as const;
/** Which llama.cpp binary to run (runtime.ts EngineBinary). */
export const ENGINE_BINARIES = ["auto", "prebuilt", "local"] as const;
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const DEFAULT_PORT = 7424;

/** Chat wrapper names node-llama-cpp can be told to use (its `specializedChatWrapperTypeNames`). */
export const CHAT_WRAPPER_NAMES = [
  "general",
  "deepSeek",
  "qwen",
  "llama3.2-lightweight",
  "llama3.1",
  "llama3",
  "llama2Chat",
  "mistral",
  "alpacaChat",
  "functionary",
  "chatML",
  "falconChat",
  "gemma4",
  "gemma",
  "harmony",
  "muse",
  "seed",
] as const;

/** Jinja text rather than a wrapper name: it has a tag or an expression. */
export function isJinjaTemplate(value: string): boolean {
  return value.includes("{%") || value.includes("{{");
}

const intFromString = (min: number, max: number) =>
  z.coerce.number({ error: "must be a number" }).int("must be a whole number").min(min).max(max);

const csv = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(",")).map((s) => s.trim()).filter(Boolean));

const bool = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no", "on", "off"])])
  .transform((v) => (typeof v === "boolean" ? v : ["true", "1", "yes", "on"].includes(v)));

/** Every setting Hearth has, with its default. Types below are inferred from this schema. */
export const ConfigSchema = z.object({
  /** A GGUF path, a model name in the models folder, or an `hf:` URI. Defaults to none (the server starts without a model). */
  model: z.string().min(1).optional(),
  /** Address to bind. Defaults to 127.0.0.1 (loopback only). */
  host: z.string().min(1).default("127.0.0.1"),
  /** Port to bind; 0 picks a free one. Defaults to 7424. */
  port: intFromString(0, 65535).default(DEFAULT_PORT),
  /** Where history, settings, secrets and downloaded models live. Defaults to the OS's per-user app data folder. */
  dataDir: z
    .string()
    .min(1)
    .default(() => defaultDataDir()),
  /** Concurrent sequences decoded together; 0 chooses from the model and memory. Defaults to 0 (auto). */
  parallel: intFromString(0, 64).default(0),
  /** Context size per sequence, in tokens; 0 chooses from the model (capped at 4096). Defaults to 0. */
  ctxSize: intFromString(0, 1_048_576).default(0),
  /** CPU threads for the math; 0 chooses from the machine. Defaults to 0 (auto). */
  threads: intFromString(0, 256).default(0),
  /**
   * CPU threads for batched decode steps (several sequences at once, or a prompt); 0 chooses: every
   * core with a local OpenMP build on CPU, else the same as `threads`. Defaults to 0 (auto).
   */
  batchThreads: intFromString(0, 256).default(0),
  /**
   * Contexts a model's sequences are spread over, each decoding on its own `threads` threads side by
   * side; 0 chooses: on CPU as many as `threads` fits in the cores (2 on a 2-core machine), 1 with a
   * GPU. Defaults to 0 (auto).
   */
  lanes: intFromString(0, 64).default(0),
  /** Compute backend. Defaults to auto (a GPU when there is one, the CPU otherwise). */
  gpu: z.enum(GPU_CHOICES).default("auto"),
  /**
   * The llama.cpp binary: "auto" runs a local build (`npm run build:engine`) when there is one and
   * the prebuilt npm binary otherwise; "prebuilt" ignores a local build; "local" refuses to start
   * without one. Defaults to auto.
   */
  engineBinary: z.enum(ENGINE_BINARIES).default("auto"),
  /**
   * Required as `Authorization: Bearer <key>` on /v1 and /api when set. As a flag it shows in the
   * process list to every local user: prefer HEARTH_API_KEY or `apiKeyFile`. Defaults to none.
   */
  apiKey: z.string().min(8, "must be at least 8 characters").optional(),
  /**
   * A file whose content (surrounding whitespace trimmed) is the API key: the key then appears in
   * no command line. Stands in for `apiKey` at its level of precedence. Defaults to none.
   */
  apiKeyFile: z.string().min(1).optional(),
  /**
   * A second bearer token, accepted wherever the API key is: the desktop app's own window sends it,
   * so the window keeps working when the person sets an API key for other tools, and no tool needs
   * the window's token. Only from the environment (HEARTH_UI_TOKEN), never a flag or the settings
   * file. It opens nothing by itself: without an API key loopback clients need no token at all, and
   * it never counts as a key for binding beyond loopback. Defaults to none.
   */
  uiToken: z.string().min(16, "must be at least 16 characters").optional(),
  /**
   * The desktop app's per-launch secret for the settings that guard the server (`host`,
   * `insecure`, `corsOrigins`, `allowedHosts`, `hfEndpoint`: PROTECTED_SETTINGS):
   * PUT /api/settings changes them only with it, sent by the Electron main process after the person
   * confirmed in a native dialog. The window itself never holds it. Only from the environment
   * (HEARTH_SETTINGS_TOKEN). Defaults to none: no API call can change those settings.
   */
  settingsToken: z.string().min(32, "must be at least 32 characters").optional(),
  /**
   * Who starts the server's disposable helper processes (the load probe, the chat-template
   * checker): "spawn" runs them with this process's own Node; "parent" asks the process that
   * started the server, over its parent port (util/disposable-child.ts). The desktop app sets it:
   * there the server runs in an Electron utility process, whose binary cannot act as Node (the
   * runAsNode fuse is off), so its main process starts them as utility processes of their own. Only
   * from the environment (HEARTH_CHILD_PROCESSES). Defaults to spawn.
   */
  childProcesses: z.enum(["spawn", "parent"]).default("spawn"),
  /** Log verbosity. Defaults to info. */
  logLevel: z.enum(LOG_LEVELS).default("info"),
  /** Requests allowed to wait for a free sequence before 429. Defaults to 64. */
  maxQueue: intFromString(0, 100_000).default(64),
  /** Allow binding beyond loopback without an API key. Defaults to false. */
  insecure: bool.default(false),
  /** Origins allowed by CORS (exact match, e.g. http://localhost:5173). Defaults to none. */
  corsOrigins: csv.default([]),
  /** Extra Host header names accepted besides loopback names (DNS-rebinding guard). Defaults to none. */
  allowedHosts: csv.default([]),
  /** Largest accepted request body in bytes. Defaults to 20 MiB. */
  bodyLimit: intFromString(1024, 1024 * 1024 * 1024).default(20 * 1024 * 1024),
  /** Seconds a generation may run before it is cancelled. Defaults to 600. */
  requestTimeout: intFromString(1, 86_400).default(600),
  /** `max_tokens` when a request gives none. Defaults to 1024 (capped by the context). */
  defaultMaxTokens: intFromString(1, 1_048_576).default(1024),
  /** Seconds to let in-flight requests finish on SIGTERM before they are cancelled. Defaults to 10. */
  shutdownGrace: intFromString(0, 3600).default(10),
  /** Record /v1 chat traffic in history. Defaults to true. */
  recordApi: bool.default(true),
  /** Days to keep recorded API conversations; 0 keeps them forever. Defaults to 30. */
  apiRetentionDays: intFromString(0, 36_500).default(30),
  /**
   * Base64 of 32 bytes that seals `secrets.json` with AES-256-GCM. Only from the environment
   * (HEARTH_SECRETS_KEY), never a flag (it would show in `ps`): the Electron shell keeps it in the
   * OS keychain with safeStorage and hands it to the server. Defaults to none (a plain 0600 file).
   */
  secretsKey: z
    .string()
    .refine((v) => Buffer.from(v, "base64").length === 32, "must be base64 of exactly 32 bytes")
    .optional(),
  /** Folder of the built UI served at `/`. Defaults to dist/renderer next to the server. */
  uiDir: z.string().optional(),
  /** Extra folders whose GGUF models are listed besides `<data-dir>/models`. Defaults to none. */
  modelDirs: csv.default([]),
  /** Seconds without requests before a model is unloaded; 0 keeps models loaded. Defaults to 900. */
  modelIdleTimeout: intFromString(0, 30 * 86_400).default(900),
  /** MiB all loaded models may take together; 0 chooses from the machine (70% of RAM plus 90% of VRAM). Defaults to 0. */
  modelMemoryMb: intFromString(0, 16 * 1024 * 1024).default(0),
  /** Seconds a request waits for its model to load before a 503. Defaults to 120. */
  modelLoadTimeout: intFromString(1, 86_400).default(120),
  /**
   * A Hugging Face access token for gated and private repositories. Only from the environment
   * (HEARTH_HF_TOKEN, or HF_TOKEN as Hugging Face's own tools use), never a flag or the settings
   * file; sent only to `hfEndpoint`'s host, never across a redirect. Defaults to none.
   */
  hfToken: z.string().min(1).optional(),
  /** Base URL of Hugging Face (or a mirror) for model downloads. Defaults to https://huggingface.co. */
  hfEndpoint: z.url({ protocol: /^https?$/ }).default("https://huggingface.co"),
  /**
   * The chat template of every local model: a wrapper name (`chatML`, `llama3.1`, `qwen`...) or a
   * Jinja template. Defaults to none (each model's own template, or a guess from its name).
   */
  chatTemplate: z
    .string()
    .min(1)
    .refine((v) => isJinjaTemplate(v) || (CHAT_WRAPPER_NAMES as readonly string[]).includes(v), {
      error: `must be a Jinja template or one of ${CHAT_WRAPPER_NAMES.join(", ")}`,
    })
    .optional(),
  /** The most choices (`n`) one request may ask for; each takes a sequence. Defaults to 8. */
  maxN: intFromString(1, 128).default(8),
  /**
   * Speculative decoding by prompt lookup: a sequence guesses its next tokens from where its last
   * ones appear in the prompt, and the model checks the guesses in the step it decodes anyway
   * (engine/speculative.ts). Pays on replies that repeat the prompt (edits, quotes); backs off where
   * guesses fail. Defaults to false (BENCHMARKS.md, "Speculative decoding").
   */
  promptLookup: bool.default(false),
  /**
   * A smaller model with the same vocabulary that drafts tokens for every local model (a GGUF path
   * or a model name of the library); a model's own setting overrides it. Refused at load when its
   * vocabulary differs. Defaults to none.
   */
  draftModel: z.string().min(1).optional(),
  /** Guesses a sequence may add to one step, so one sequence cannot swell a shared step; 0 turns guessing off. Defaults to 8. */
  draftMax: intFromString(0, 64).default(8),
});

export type Config = Readonly<
  z.infer<typeof ConfigSchema> & {
    /**
     * The settings file this config was read from, and the one the Settings screen writes
     * (`--config` / HEARTH_CONFIG, else `<data-dir>/settings.json`). Derived, never a setting.
     */
    settingsFile: string;
  }
>;
export type ConfigInput = z.input<typeof ConfigSchema>;

interface OptionSpec {
  flag: string;
  key: keyof ConfigInput;
  type: "string" | "boolean";
  help: string;
}

/** The CLI flags and their environment variables (`--ctx-size` <-> HEARTH_CTX_SIZE). */
export const OPTIONS: readonly OptionSpec[] = [
  { flag: "model", key: "model", type: "string", help: "GGUF path, model name in the models folder, or hf: URI" },
  { flag: "host", key: "host", type: "string", help: "address to bind (default 127.0.0.1)" },
  { flag: "port", key: "port", type: "string", help: `port to bind, 0 for a free one (default ${DEFAULT_PORT})` },
  {
    flag: "data-dir",
    key: "dataDir",
    type: "string",
    help: "history, settings and models folder (default: OS app data)",
  },
  { flag: "parallel", key: "parallel", type: "string", help: "concurrent sequences, 0 = auto (default 0)" },
  { flag: "ctx-size", key: "ctxSize", type: "string", help: "context tokens per sequence, 0 = auto (default 0)" },
  { flag: "threads", key: "threads", type: "string", help: "CPU threads, 0 = auto (default 0)" },
  {
    flag: "batch-threads",
    key: "batchThreads",
    type: "string",
    help: "CPU threads for batched steps, 0 = auto (default 0: all cores with a local build)",
  },
  {
    flag: "lanes",
    key: "lanes",
    type: "string",
    help: "contexts decoding side by side, 0 = auto (default 0: cores / threads on CPU, 1 with a GPU)",
  },
  { flag: "gpu", key: "gpu", type: "string", help: "auto|cpu|cuda|vulkan|metal (default auto)" },
  {
    flag: "engine-binary",
    key: "engineBinary",
    type: "string",
    help: "llama.cpp binary: auto|prebuilt|local (default auto: a local build when there is one)",
  },
  {
    flag: "api-key",
    key: "apiKey",
    type: "string",
    help: "require this bearer token on /v1, /api and /mcp (shows in the process list: prefer the variable or --api-key-file)",
  },
  { flag: "api-key-file", key: "apiKeyFile", type: "string", help: "read the API key from this file" },
  {
    flag: "log-level",
    key: "logLevel",
    type: "string",
    help: "fatal|error|warn|info|debug|trace|silent (default info)",
  },
  { flag: "max-queue", key: "maxQueue", type: "string", help: "requests that may wait for a sequence (default 64)" },
  { flag: "insecure", key: "insecure", type: "boolean", help: "allow a non-loopback bind without an API key" },
  { flag: "cors-origins", key: "corsOrigins", type: "string", help: "comma-separated origins allowed by CORS" },
  { flag: "allowed-hosts", key: "allowedHosts", type: "string", help: "comma-separated extra Host names to accept" },
  { flag: "body-limit", key: "bodyLimit", type: "string", help: "largest request body in bytes (default 20 MiB)" },
  {
    flag: "request-timeout",
    key: "requestTimeout",
    type: "string",
    help: "seconds before a generation is cancelled (default 600)",
  },
  {
    flag: "default-max-tokens",
    key: "defaultMaxTokens",
    type: "string",
    help: "max_tokens when none is given (default 1024)",
  },
  {
    flag: "shutdown-grace",
    key: "shutdownGrace",
    type: "string",
    help: "seconds in-flight requests get on SIGTERM (default 10)",
  },
  {
    flag: "record-api",
    key: "recordApi",
    type: "string",
    help: "record /v1 chat traffic in history: true|false (default true)",
  },
  {
    flag: "api-retention-days",
    key: "apiRetentionDays",
    type: "string",
    help: "days to keep recorded API chats, 0 = forever (default 30)",
  },
  {
    flag: "ui-dir",
    key: "uiDir",
    type: "string",
    help: "folder of the built UI to serve at / (default dist/renderer)",
  },
  { flag: "model-dirs", key: "modelDirs", type: "string", help: "comma-separated extra folders to list models from" },
  {
    flag: "model-idle-timeout",
    key: "modelIdleTimeout",
    type: "string",
    help: "seconds before an unused model is unloaded, 0 = never (default 900)",
  },
  {
    flag: "model-memory-mb",
    key: "modelMemoryMb",
    type: "string",
    help: "MiB loaded models may use together, 0 = auto (default 0)",
  },
  {
    flag: "model-load-timeout",
    key: "modelLoadTimeout",
    type: "string",
    help: "seconds a request waits for its model to load (default 120)",
  },
  {
    flag: "hf-endpoint",
    key: "hfEndpoint",
    type: "string",
    help: "Hugging Face base URL for downloads (default https://huggingface.co)",
  },
  {
    flag: "chat-template",
    key: "chatTemplate",
    type: "string",
    help: "chat template for local models: a wrapper name (chatML, llama3.1...) or Jinja text",
  },
  { flag: "max-n", key: "maxN", type: "string", help: "most choices (n) one request may ask for (default 8)" },
  {
    flag: "prompt-lookup",
    key: "promptLookup",
    type: "boolean",
    help: "speculative decoding by prompt lookup: guess tokens the reply copies from the prompt (default off)",
  },
  {
    flag: "draft-model",
    key: "draftModel",
    type: "string",
    help: "a smaller model with the same vocabulary that drafts tokens for local models (path or name)",
  },
  {
    flag: "draft-max",
    key: "draftMax",
    type: "string",
    help: "most guessed tokens a sequence adds to one step, 0 = none (default 8)",
  },
];

export const envName = (flag: string): string => `HEARTH_${flag.toUpperCase().replaceAll("-", "_")}`;

export class ConfigError extends Error {}

/**
 * Settings that guard the server: who can connect (`host`, `insecure`), which web pages and host
 * names may call it (`corsOrigins`, `allowedHosts`), and where the Hugging Face token is sent
 * (`hfEndpoint`). Set on the command line, in the environment or the settings file by hand; through
 * the API only with `settingsToken` (api/settings.ts).
 */
export const PROTECTED_SETTINGS = [
  "host",
  "insecure",
  "corsOrigins",
  "allowedHosts",
  "hfEndpoint",
] as const satisfies readonly (keyof Config)[];
export type ProtectedKey = (typeof PROTECTED_SETTINGS)[number];

/** The header that carries `settingsToken` (sent by the Electron main process only; never allowed by CORS). */
export const SETTINGS_TOKEN_HEADER = "X-Hearth-Settings-Token";

/** Settings whose values are secrets: never shown in errors, answers or logs. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  "apiKey",
  "secretsKey",
  "uiToken",
  "settingsToken",
  "hfToken",
]);

/** The OS's per-user app data folder for Hearth. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const home = os.homedir();
  if (platform === "win32") return path.join(env.APPDATA ?? path.join(home, "AppData", "Roaming"), "Hearth");
  if (platform === "darwin") return path.join(home, "Library", "Application Support", "Hearth");
  return path.join(env.XDG_DATA_HOME ?? path.join(home, ".local", "share"), "hearth");
}

export interface LoadConfigSources {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Values set by code (tests, the Electron shell); they sit above every other source. */
  overrides?: Partial<ConfigInput>;
}

/** Parses `hearth serve` arguments into raw values; unknown flags are errors. */
export function parseCliArgs(
  argv: readonly string[],
): Partial<Record<keyof ConfigInput, unknown>> & { config?: string } {
  const options = Object.fromEntries([
    ...OPTIONS.map((o) => [o.flag, { type: o.type }] as const),
    ["config", { type: "string" }] as const,
  ]);
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: false, strict: true });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. Run 'hearth serve --help' for the list of flags.`);
  }
  const out: Partial<Record<keyof ConfigInput, unknown>> & { config?: string } = {};
  for (const o of OPTIONS) {
    const v = parsed.values[o.flag];
    if (v !== undefined) out[o.key] = v;
  }
  const cfg = parsed.values.config;
  if (typeof cfg === "string") out.config = cfg;
  return out;
}

/** The flags `hearth mcp` takes: only where the history is. */
const MCP_FLAGS = ["data-dir", "config"] as const;

/**
 * `hearth mcp`: the data folder (and so the history file) the server would use, read the same
 * way (flag > HEARTH_DATA_DIR > default, the settings file as `--config` or HEARTH_CONFIG names
 * it). No other flag is taken: the MCP server listens on nothing and loads no model.
 */
export function loadMcpConfig(sources: LoadConfigSources = {}): { dataDir: string } {
  const argv = sources.argv ?? [];
  try {
    parseArgs({
      args: [...argv],
      options: Object.fromEntries(MCP_FLAGS.map((f) => [f, { type: "string" }] as const)),
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. Run 'hearth mcp --help' for the list of flags.`);
  }
  return { dataDir: loadConfig({ ...sources, argv }).dataDir };
}

function readSettingsFile(file: string, required: boolean): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new ConfigError(`Cannot read settings file ${file}: ${(err as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`Settings file ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function readApiKeyFile(file: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`--api-key-file (HEARTH_API_KEY_FILE): cannot read ${file}: ${(err as Error).message}`);
  }
  const key = ConfigSchema.shape.apiKey.safeParse(text.trim());
  if (!key.success || key.data === undefined)
    throw new ConfigError(
      `--api-key-file (HEARTH_API_KEY_FILE): the key in ${file} ${key.error?.issues[0]?.message ?? "is missing"}`,
    );
  return key.data;
}

/** Builds the frozen config, or throws ConfigError with one line per bad value. */
export function loadConfig(sources: LoadConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const cli = parseCliArgs(sources.argv ?? []);
  const fromEnv: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const v = env[envName(o.flag)];
    if (v !== undefined && v !== "") fromEnv[o.key] = v;
  }
  if (env.HEARTH_SECRETS_KEY) fromEnv.secretsKey = env.HEARTH_SECRETS_KEY;
  if (env.HEARTH_UI_TOKEN) fromEnv.uiToken = env.HEARTH_UI_TOKEN;
  if (env.HEARTH_SETTINGS_TOKEN) fromEnv.settingsToken = env.HEARTH_SETTINGS_TOKEN;
  if (env.HEARTH_CHILD_PROCESSES) fromEnv.childProcesses = env.HEARTH_CHILD_PROCESSES;
  const hfToken = env.HEARTH_HF_TOKEN || env.HF_TOKEN;
  if (hfToken) fromEnv.hfToken = hfToken;
  const { config: configFile, ...fromCli } = cli;
  const dataDirGuess = (sources.overrides?.dataDir ??
    fromCli.dataDir ??
    fromEnv.dataDir ??
    defaultDataDir(env)) as string;
  const chosenFile = configFile ?? env.HEARTH_CONFIG;
  const settingsFile = path.resolve(chosenFile ?? path.join(dataDirGuess, "settings.json"));
  const fromFile = readSettingsFile(settingsFile, chosenFile !== undefined);
  // The desktop app's tokens prove a request came from it: a file anyone could have written proves nothing.
  for (const key of ["uiToken", "settingsToken", "childProcesses"])
    if (key in fromFile)
      throw new ConfigError(`Settings file ${settingsFile}: '${key}' comes only from the environment.`);
  const merged: Record<string, unknown> = {};
  for (const [name, layer] of [
    ["settings file", fromFile],
    ["environment", fromEnv],
    ["command line", fromCli],
    ["overrides", sources.overrides ?? {}],
  ] as const) {
    // apiKey and apiKeyFile are one setting: a higher source's either replaces a lower source's both.
    if ("apiKey" in layer && "apiKeyFile" in layer)
      throw new ConfigError(`Invalid configuration: give the API key or a file holding it, not both (${name}).`);
    if ("apiKey" in layer || "apiKeyFile" in layer) {
      delete merged.apiKey;
      delete merged.apiKeyFile;
    }
    Object.assign(merged, layer);
  }
  const result = ConfigSchema.strict().safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? "");
      const spec = OPTIONS.find((o) => o.key === key);
      const name = spec ? `--${spec.flag} (${envName(spec.flag)})` : key || "settings";
      // Secrets are never echoed: the message reaches stderr and the desktop app's log file.
      const received = key in merged && !SECRET_SETTINGS.has(key) ? ` (got ${JSON.stringify(merged[key])})` : "";
      return `${name}: ${issue.message}${received}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  const config = { ...result.data };
  if (config.apiKeyFile !== undefined) config.apiKey = readApiKeyFile(config.apiKeyFile);
  if (!isLoopbackHost(config.host) && !config.apiKey && !config.insecure) {
    throw new ConfigError(
      `Refusing to listen on ${config.host} without an API key: anyone on the network could use it. ` +
        "Set --api-key (HEARTH_API_KEY), or pass --insecure if you really mean it.",
    );
  }
  return Object.freeze({
    ...config,
    settingsFile,
    corsOrigins: Object.freeze([...config.corsOrigins]) as string[],
    allowedHosts: Object.freeze([...config.allowedHosts]) as string[],
    modelDirs: Object.freeze([...config.modelDirs]) as string[],
  });
}

/** Environment variables that hold secrets: the server's API key and the key that opens secrets.json. */
export const SECRET_ENV_VARS = [
  "HEARTH_API_KEY",
  "HEARTH_SECRETS_KEY",
  "HEARTH_UI_TOKEN",
  "HEARTH_SETTINGS_TOKEN",
  "HEARTH_HF_TOKEN",
  "HF_TOKEN",
] as const;

/**
 * Removes the secret variables from `env` once the config holds them, so no child process
 * inherits them: node-llama-cpp starts helper processes with a copy of process.env, and neither
 * they nor the template checker need Hearth's keys.
 */
export function scrubSecretEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECRET_ENV_VARS) delete env[name];
}

/**
 * The environment for helper processes that need nothing from the user's: only what the OS needs
 * to start one (SystemRoot on Windows), and ELECTRON_RUN_AS_NODE so Electron's binary acts as Node.
 */
export function helperProcessEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return { ELECTRON_RUN_AS_NODE: "1", ...(env.SystemRoot ? { SystemRoot: env.SystemRoot } : {}) };
}

/**
 * The environment of a process that runs the engine (the load probe, load-probe.ts): what
 * helperProcessEnv gives, plus the variables GPU drivers, the dynamic linker and llama.cpp read,
 * so the child finds the same backend as the server. Nothing else: no keys, no tokens.
 */
export function engineProcessEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const engine =
    /^(PATH|Path|HOME|USERPROFILE|TMPDIR|TEMP|TMP|windir|WINDIR|ProgramFiles.*|LD_LIBRARY_PATH|DYLD_.*|CUDA_.*|NVIDIA_.*|HIP_.*|ROCM_.*|ROCR_.*|HSA_.*|GPU_DEVICE_ORDINAL|VK_.*|VULKAN_SDK|XDG_.*|GGML_.*|OMP_.*)$/;
  const out = helperProcessEnv(env);
  for (const [k, v] of Object.entries(env)) if (v !== undefined && engine.test(k)) out[k] = v;
  return out;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h.endsWith(".localhost");
}

export function helpText(): string {
  const rows = OPTIONS.map(
    (o) => `  --${(o.flag + (o.type === "string" ? " <value>" : "")).padEnd(30)} ${o.help}  [${envName(o.flag)}]`,
  );
  return [
    "Usage: hearth serve [options]",
    "       hearth mcp [--data-dir <dir>] [--config <file>]",
    "",
    "Runs the Hearth server: an OpenAI-compatible API on /v1, the management API on /api and the UI on /.",
    "`hearth mcp` serves the chat history, read-only, to an MCP client (Claude Code, Cursor) over stdin/stdout.",
    "",
    "Options (each also settable as an environment variable or in <data-dir>/settings.json):",
    ...rows,
    `  --${"config <file>".padEnd(30)} settings file to read instead of <data-dir>/settings.json  [HEARTH_CONFIG]`,
    `  --${"help".padEnd(30)} show this help`,
  ].join("\n");
}

export function mcpHelpText(): string {
  return [
    "Usage: hearth mcp [--data-dir <dir>] [--config <file>]",
    "",
    "Serves Hearth's chat history to an MCP client over stdin/stdout, read-only: the tools",
    "search_history, list_recent_conversations, get_conversation and get_message.",
    "Add it to Claude Code with: claude mcp add hearth -- hearth mcp",
    "",
    "Options:",
    `  --${"data-dir <value>".padEnd(30)} the data folder whose history.sqlite to read (default: OS app data)  [HEARTH_DATA_DIR]`,
    `  --${"config <file>".padEnd(30)} settings file to read instead of <data-dir>/settings.json  [HEARTH_CONFIG]`,
    `  --${"help".padEnd(30)} show this help`,
  ].join("\n");
}
