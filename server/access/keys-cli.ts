/**
 * `hearth keys create|list|revoke`: named API keys from the command line (issue 20). Works on
 * `<data-dir>/keys.json` directly, with or without a running server, which sees the change within
 * a second (access/keys.ts RELOAD_MS). `create` prints the key alone on stdout, so a script can
 * capture it; everything meant for a person goes to stderr.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, loadMcpConfig } from "../config.js";
import { servesNetwork } from "./network.js";
import { KEY_SCOPES, type KeyScope } from "../wire/access.js";
import { KeyError, KeyStore } from "./keys.js";

export function keysHelpText(): string {
  return [
    "Usage: hearth keys create --name <name> [--scope inference|admin] [--rpm <n>] [--tpm <n>]",
    "       hearth keys list",
    "       hearth keys revoke <id|name>",
    "",
    "Named API keys for other people and tools. A key is shown once, when created, and stored only",
    "as a hash. Scope 'inference' (the default) may use /v1 and /v1/messages; 'admin' may use /api,",
    "/mcp and /metrics too. --rpm and --tpm limit requests and tokens per minute (0: no limit;",
    "default 120 and 100000).",
    "",
    "Options (each command):",
    `  --${"data-dir <value>".padEnd(30)} the data folder whose keys.json to use (default: OS app data)  [HEARTH_DATA_DIR]`,
    `  --${"config <file>".padEnd(30)} settings file to read instead of <data-dir>/settings.json  [HEARTH_CONFIG]`,
  ].join("\n");
}

const count = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100_000_000)
    throw new ConfigError(`--${flag} must be a whole number from 0 to 100000000 (got ${JSON.stringify(value)}).`);
  return n;
};

const limitText = (n: number, unit: string) => (n === 0 ? "no limit" : `${n} ${unit}/min`);

/** Runs `hearth keys <argv>`; returns the exit code. */
export function runKeysCommand(
  argv: readonly string[],
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: {
        name: { type: "string" },
        scope: { type: "string" },
        rpm: { type: "string" },
        tpm: { type: "string" },
        "data-dir": { type: "string" },
        config: { type: "string" },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (e) {
    err(`${(e as Error).message}. Run 'hearth keys --help' for the usage.`);
    return 2;
  }
  const [command, ...rest] = positionals;
  try {
    const where = [
      ...(values["data-dir"] ? ["--data-dir", values["data-dir"]] : []),
      ...(values.config ? ["--config", values.config] : []),
    ];
    const store = KeyStore.inDataDir(loadMcpConfig({ argv: where }).dataDir);
    switch (command) {
      case "create": {
        if (!values.name) throw new ConfigError("hearth keys create needs --name <name>.");
        const scope = values.scope ?? "inference";
        if (!(KEY_SCOPES as readonly string[]).includes(scope))
          throw new ConfigError(`--scope must be one of ${KEY_SCOPES.join(", ")} (got ${JSON.stringify(scope)}).`);
        const { key, info } = store.create({
          name: values.name,
          scope: scope as KeyScope,
          ...(values.rpm !== undefined ? { rpm: count("rpm", values.rpm) } : {}),
          ...(values.tpm !== undefined ? { tpm: count("tpm", values.tpm) } : {}),
        });
        out(key);
        err(
          `Created key '${info.name}' (id ${info.id}, scope ${info.scope}, ${limitText(info.rpm, "requests")}, ${limitText(info.tpm, "tokens")}).`,
        );
        err("This is the only time the key is shown: copy it now.");
        return 0;
      }
      case "list": {
        const keys = store.list();
        if (keys.length === 0) {
          err("No keys. Create one with: hearth keys create --name <name>");
          return 0;
        }
        out(
          ["ID".padEnd(12), "NAME".padEnd(24), "SCOPE".padEnd(10), "RPM".padEnd(9), "TPM".padEnd(11), "CREATED"].join(
            "  ",
          ),
        );
        for (const k of keys)
          out(
            [
              k.id.padEnd(12),
              k.name.padEnd(24),
              k.scope.padEnd(10),
              String(k.rpm || "-").padEnd(9),
              String(k.tpm || "-").padEnd(11),
              new Date(k.createdAt).toISOString(),
            ].join("  "),
          );
        return 0;
      }
      case "revoke": {
        const target = rest[0];
        if (!target) throw new ConfigError("hearth keys revoke needs a key's id or name.");
        // As /api/keys refuses it: without its last key, a server set to serve the network would not start.
        let network = false;
        try {
          const config = loadConfig({ argv: where });
          network = servesNetwork(config.host) && config.apiKey === undefined && !config.insecure;
        } catch {
          // Settings that do not load are the next start's problem, not this command's.
        }
        if (network && store.list().length === 1) {
          err(
            "This is the last key, and Hearth is set to serve the local network, which needs one. Turn off 'Serve on local network' (the host setting) first, or create another key.",
          );
          return 1;
        }
        const info = store.revoke(target);
        err(`Revoked key '${info.name}' (id ${info.id}).`);
        return 0;
      }
      default:
        err(`${command === undefined ? "A command is missing" : `Unknown command '${command}'`}.\n\n${keysHelpText()}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError || e instanceof KeyError) {
      err(e.message);
      return e instanceof KeyError && e.code === "key_not_found" ? 1 : 2;
    }
    if ((e as { name?: string }).name === "ZodError") {
      err(`--name ${(e as { issues: { message: string }[] }).issues[0]?.message ?? "is not valid"}.`);
      return 2;
    }
    throw e;
  }
}
