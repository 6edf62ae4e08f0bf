/**
 * The shapes of /api/providers. Their zod schemas live beside the provider config they validate
 * (providers/provider-config.ts, which imports only zod); this names the ones the UI reads.
 */
export type {
  ProviderCreate,
  ProviderKind,
  ProviderTestResult,
  ProviderUpdate,
  ProviderView,
} from "../providers/provider-config.js";
