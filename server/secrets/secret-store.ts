/**
 * Where secrets (remote providers' API keys and credential headers) live. The interface is async
 * and string-keyed so a store can sit anywhere: the headless server's 0600 file
 * (`FileSecretStore`), or a store the Electron shell backs with the OS keychain. Pass another
 * implementation to `createServer(config, { secrets })`; nothing else in the server changes.
 *
 * Values never leave the server through the API, logs, errors or history: only `has` answers
 * travel outward (as `hasApiKey`).
 */
export interface SecretStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Removes the secret; a missing key is not an error. */
  delete(key: string): Promise<void>;
  has(key: string): Promise<boolean>;
}

/** The secret keys a remote provider owns, in one place so adding and removing agree. */
export const providerSecretKeys = (providerId: string) =>
  ({
    apiKey: `provider:${providerId}:apiKey`,
    headers: `provider:${providerId}:headers`,
  }) as const;
