/**
 * The configured remote providers: their configs in `<data-dir>/providers.json` (no secrets), their
 * API keys and extra headers in the SecretStore, and one live RemoteProvider each, registered with
 * the ProviderRouter. Every change goes through here, one at a time, so the file, the secrets and
 * the router always agree.
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { BadRequestError, HearthError, NotFoundError } from "../errors.js";
import type { Logger } from "../logger.js";
import { providerSecretKeys, type SecretStore } from "../secrets/secret-store.js";
import {
  ProviderConfigSchema,
  ProvidersFileSchema,
  sameOrigin,
  type ProviderConfig,
  type ProviderCreate,
  type ProviderTestResult,
  type ProviderUpdate,
  type ProviderView,
} from "./provider-config.js";
import { RemoteProvider, type RemoteCredentials, type RemoteProviderOptions } from "./remote.js";
import type { ProviderRouter } from "./router.js";
import { pointsAtSelf, type ListeningAddress } from "./self-address.js";

export interface ProviderStoreOptions {
  /** The data dir; providers are kept in `providers.json` there. */
  dataDir: string;
  secrets: SecretStore;
  router: ProviderRouter;
  logger: Logger;
  /** Passed to every RemoteProvider (retries, backoff, user agent, this server's id). Defaults to theirs. */
  remote?: Pick<RemoteProviderOptions, "retries" | "backoffMs" | "userAgent" | "instanceId">;
  /** Where this server listens (null before it does): a provider may not point there. */
  self?: () => ListeningAddress | null;
}

const HeadersSecretSchema = z.record(z.string(), z.string());

export class ProviderStore {
  private readonly providers = new Map<string, RemoteProvider>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ProviderStoreOptions) {}

  get file(): string {
    return path.join(this.options.dataDir, "providers.json");
  }

  /** Reads the saved providers and registers them; a damaged file is set aside, never fatal. */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    const parsed = (() => {
      try {
        return ProvidersFileSchema.safeParse(JSON.parse(text));
      } catch {
        return null;
      }
    })();
    if (!parsed?.success) {
      const aside = `${this.file}.invalid-${Date.now()}`;
      await fs.rename(this.file, aside);
      this.options.logger.error(
        { file: aside },
        "providers.json is damaged; it was set aside and no remote providers are configured",
      );
      return;
    }
    for (const config of parsed.data.providers) {
      if (this.providers.has(config.id)) continue;
      this.register(config, await this.readCredentials(config.id));
    }
  }

  /** Discovers every provider's models, in the background of start-up; failures show in each status. */
  async refreshAll(): Promise<void> {
    await Promise.allSettled([...this.providers.values()].map((p) => p.refresh()));
  }

  async list(): Promise<ProviderView[]> {
    return [...this.providers.values()].map((p) => this.view(p));
  }

  async get(id: string): Promise<ProviderView> {
    return this.view(this.require(id));
  }

  /** Saves a new provider and its secrets, then discovers its models (a failure is only its status). */
  async add(input: ProviderCreate): Promise<ProviderView> {
    const provider = await this.locked(async () => {
      if (this.providers.has(input.id)) {
        throw new HearthError(409, "invalid_request_error", `A provider with id '${input.id}' already exists.`, {
          param: "id",
          code: "provider_exists",
        });
      }
      const { apiKey, headers, ...rest } = input;
      const config = ProviderConfigSchema.parse(rest);
      await this.refuseSelf(config.baseUrl);
      const credentials: RemoteCredentials = { ...(apiKey !== undefined ? { apiKey } : {}), headers: headers ?? {} };
      await this.writeCredentials(config.id, credentials);
      try {
        await this.save([...this.configs(), config]);
      } catch (err) {
        await this.deleteCredentials(config.id);
        throw err;
      }
      const added = this.register(config, credentials);
      this.options.logger.info({ provider: config.id, kind: config.kind, baseUrl: config.baseUrl }, "provider added");
      return added;
    });
    // Outside the lock: a slow provider must not hold up changes to the others.
    await provider.refresh();
    return this.view(provider);
  }

  async update(id: string, patch: ProviderUpdate): Promise<ProviderView> {
    const provider = await this.locked(async () => {
      const provider = this.require(id);
      const { apiKey, headers, ...fields } = patch;
      const config = ProviderConfigSchema.parse({ ...provider.getConfig(), ...stripUndefined(fields) });
      if (fields.baseUrl !== undefined) await this.refuseSelf(config.baseUrl);
      // Stored secrets belong to the origin they were given for: sending them to a new one would
      // let any /api caller read them (point the provider at a server of theirs, press Test).
      const moved = !sameOrigin(config.baseUrl, provider.getConfig().baseUrl);
      const stored = await this.readCredentials(id);
      const current: RemoteCredentials = moved ? { headers: {} } : stored;
      const cleared =
        moved &&
        ((stored.apiKey !== undefined && apiKey === undefined) ||
          (Object.keys(stored.headers).length > 0 && headers === undefined));
      const credentials: RemoteCredentials = {
        ...(apiKey === undefined
          ? current.apiKey !== undefined
            ? { apiKey: current.apiKey }
            : {}
          : apiKey === null
            ? {}
            : { apiKey }),
        headers: headers === undefined ? current.headers : (headers ?? {}),
      };
      if (moved || apiKey !== undefined || headers !== undefined) await this.writeCredentials(id, credentials);
      await this.save(this.configs().map((c) => (c.id === id ? config : c)));
      provider.update(config, credentials);
      this.options.logger.info({ provider: id, fields: Object.keys(patch) }, "provider changed");
      if (cleared)
        this.options.logger.warn(
          { provider: id },
          "the provider's address moved to another origin: its stored API key and extra headers were cleared",
        );
      return provider;
    });
    await provider.refresh();
    return this.view(provider);
  }

  remove(id: string): Promise<void> {
    return this.locked(async () => {
      const provider = this.require(id);
      await this.save(this.configs().filter((c) => c.id !== id));
      this.providers.delete(id);
      this.options.router.remove(id);
      await this.deleteCredentials(id);
      await provider.close();
      this.options.logger.info({ provider: id }, "provider removed");
    });
  }

  /** True when `model` is one a provider is known to expose (see RemoteProvider.knowsModel). */
  knows(model: string): boolean {
    for (const p of this.providers.values()) if (p.knowsModel(model)) return true;
    return false;
  }

  test(id: string): Promise<ProviderTestResult> {
    return this.require(id).test();
  }

  /** Tests a provider that is not saved (the UI's "Test" button before "Save"); keeps nothing. */
  async testUnsaved(input: ProviderCreate): Promise<ProviderTestResult> {
    const { apiKey, headers, ...rest } = input;
    const config = ProviderConfigSchema.parse(rest);
    await this.refuseSelf(config.baseUrl);
    const provider = new RemoteProvider({
      ...this.options.remote,
      config,
      credentials: { ...(apiKey !== undefined ? { apiKey } : {}), headers: headers ?? {} },
      logger: this.options.logger,
      retries: 0,
    });
    try {
      return await provider.test();
    } finally {
      await provider.close();
    }
  }

  async refresh(id: string): Promise<ProviderView> {
    const provider = this.require(id);
    await provider.refresh();
    return this.view(provider);
  }

  /** The router closes the providers themselves; this waits for pending writes. */
  async close(): Promise<void> {
    await this.chain;
  }

  // ---- internals ----

  private register(config: ProviderConfig, credentials: RemoteCredentials): RemoteProvider {
    const provider = new RemoteProvider({ ...this.options.remote, config, credentials, logger: this.options.logger });
    this.providers.set(config.id, provider);
    this.options.router.add(provider);
    return provider;
  }

  /** A provider at this server's own address would send every request back here. */
  private async refuseSelf(baseUrl: string): Promise<void> {
    if (await pointsAtSelf(baseUrl, this.options.self?.() ?? null)) {
      throw new BadRequestError(
        "This base URL is this Hearth server itself; a provider must point at another server.",
        { param: "baseUrl", code: "provider_is_self" },
      );
    }
  }

  private require(id: string): RemoteProvider {
    const provider = this.providers.get(id);
    if (!provider) throw new NotFoundError(`No provider with id '${id}'.`, { code: "provider_not_found" });
    return provider;
  }

  private configs(): ProviderConfig[] {
    return [...this.providers.values()].map((p) => p.getConfig());
  }

  private view(p: RemoteProvider): ProviderView {
    return {
      ...p.getConfig(),
      hasApiKey: p.hasApiKey,
      headers: p.headerNames,
      status: p.getStatus(),
      availableModels: p.getStatus().state === "error" ? [] : (p.exposedModels() ?? []).map((m) => `${p.id}/${m}`),
      discoveredModels: p.getDiscovered(),
    };
  }

  private locked<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async save(configs: ProviderConfig[]): Promise<void> {
    await fs.mkdir(this.options.dataDir, { recursive: true });
    const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
    try {
      await fs.writeFile(tmp, `${JSON.stringify({ version: 1, providers: configs }, null, 2)}\n`, {
        mode: 0o600,
        flag: "wx",
      });
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  private async readCredentials(id: string): Promise<RemoteCredentials> {
    const keys = providerSecretKeys(id);
    try {
      const apiKey = await this.options.secrets.get(keys.apiKey);
      const headersText = await this.options.secrets.get(keys.headers);
      const headers = headersText ? HeadersSecretSchema.parse(JSON.parse(headersText)) : {};
      return { ...(apiKey !== undefined ? { apiKey } : {}), headers };
    } catch (err) {
      // Without its secrets the provider still exists; its requests will fail and say why.
      this.options.logger.error({ provider: id }, `could not read the provider's secrets: ${(err as Error).message}`);
      return { headers: {} };
    }
  }

  private async writeCredentials(id: string, credentials: RemoteCredentials): Promise<void> {
    const keys = providerSecretKeys(id);
    if (credentials.apiKey !== undefined) await this.options.secrets.set(keys.apiKey, credentials.apiKey);
    else await this.options.secrets.delete(keys.apiKey);
    if (Object.keys(credentials.headers).length > 0)
      await this.options.secrets.set(keys.headers, JSON.stringify(credentials.headers));
    else await this.options.secrets.delete(keys.headers);
  }

  private async deleteCredentials(id: string): Promise<void> {
    const keys = providerSecretKeys(id);
    await this.options.secrets.delete(keys.apiKey);
    await this.options.secrets.delete(keys.headers);
  }
}

function stripUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
