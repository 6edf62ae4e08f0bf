/**
 * A short curated list of small chat models for the first-run screen: openly licensed (no
 * gated repositories, so no token is needed), in a few sizes, each with its download size and
 * the memory it needs. Sizes are approximate (the download reports the exact size); the memory
 * figure is the weights plus a 4096-token context and runtime overhead, rounded up.
 */
import type { RecommendedModel } from "../wire/models.js";

const GB = 1_000_000_000;

export const RECOMMENDED_MODELS: readonly RecommendedModel[] = [
  {
    id: "Qwen3-0.6B-Q8_0",
    name: "Qwen3 0.6B",
    description: "The smallest useful chat model: fast on any machine, fine for short answers and quick tests.",
    source: "hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf",
    fileName: "Qwen3-0.6B-Q8_0.gguf",
    parameters: "0.6B",
    quantization: "Q8_0",
    downloadBytes: 0.64 * GB,
    memoryBytes: 1.3 * GB,
    license: "Apache-2.0",
  },
  {
    id: "qwen2.5-1.5b-instruct-q4_k_m",
    name: "Qwen2.5 1.5B Instruct",
    description: "Small and quick, with a good grasp of instructions; a sensible default for laptops.",
    source: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    fileName: "qwen2.5-1.5b-instruct-q4_k_m.gguf",
    parameters: "1.5B",
    quantization: "Q4_K_M",
    downloadBytes: 1.12 * GB,
    memoryBytes: 1.6 * GB,
    license: "Apache-2.0",
  },
  {
    id: "Qwen3-4B-Q4_K_M",
    name: "Qwen3 4B",
    description: "A capable all-rounder (reasoning, code, tools) for machines with 8 GB of memory or more.",
    source: "hf:Qwen/Qwen3-4B-GGUF/Qwen3-4B-Q4_K_M.gguf",
    fileName: "Qwen3-4B-Q4_K_M.gguf",
    parameters: "4B",
    quantization: "Q4_K_M",
    downloadBytes: 2.5 * GB,
    memoryBytes: 3.4 * GB,
    license: "Apache-2.0",
  },
  {
    id: "Qwen3-8B-Q4_K_M",
    name: "Qwen3 8B",
    description: "Noticeably stronger answers; wants 16 GB of memory or a GPU with 8 GB.",
    source: "hf:Qwen/Qwen3-8B-GGUF/Qwen3-8B-Q4_K_M.gguf",
    fileName: "Qwen3-8B-Q4_K_M.gguf",
    parameters: "8B",
    quantization: "Q4_K_M",
    downloadBytes: 5.0 * GB,
    memoryBytes: 6.2 * GB,
    license: "Apache-2.0",
  },
];
