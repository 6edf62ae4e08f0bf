/**
 * Provider kinds as the UI offers them. The server's list is PROVIDER_KINDS in
 * server/providers/provider-config.ts; this copy is checked against its type at compile time, so
 * the UI bundle does not pull in zod.
 */
import type { ProviderKind } from "../../../server/wire/providers.js";

export const PROVIDER_KINDS = [
  {
    value: "openai-compatible",
    label: "OpenAI-compatible",
    hint: "Any server that speaks the OpenAI API (llama.cpp, LM Studio, Ollama, another Hearth…)",
  },
  { value: "vllm", label: "vLLM", hint: "A vLLM server; accepts top_k, min_p and guided decoding." },
  { value: "openai", label: "OpenAI", hint: "api.openai.com" },
] as const satisfies readonly { value: ProviderKind; label: string; hint: string }[];

// Fails to compile when the server gains a kind this list lacks.
type Missing = Exclude<ProviderKind, (typeof PROVIDER_KINDS)[number]["value"]>;
export const allKindsListed: Missing extends never ? true : never = true;
