/**
 * Generation settings per conversation and the presets offered for them. The names match the
 * history module's GenerationParams (camelCase); `toWire` maps them to OpenAI's request fields.
 */
import type { GenerationParams } from "../api/history.js";

export interface Preset {
  id: string;
  name: string;
  systemPrompt: string;
  params: GenerationParams;
  builtIn?: boolean;
}

export const BUILT_IN_PRESETS: readonly Preset[] = [
  { id: "balanced", name: "Balanced", systemPrompt: "", params: { temperature: 0.7, topP: 0.95 }, builtIn: true },
  { id: "precise", name: "Precise", systemPrompt: "", params: { temperature: 0.2, topP: 0.9 }, builtIn: true },
  {
    id: "creative",
    name: "Creative",
    systemPrompt: "",
    params: { temperature: 1.0, topP: 1, minP: 0.05 },
    builtIn: true,
  },
  {
    id: "coder",
    name: "Coding assistant",
    systemPrompt:
      "You are a careful programming assistant. Answer with working code in fenced blocks and explain briefly.",
    params: { temperature: 0.2 },
    builtIn: true,
  },
];

const KEY = "hearth.presets";

export function loadPresets(): Preset[] {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) ?? "[]") as Preset[];
    return [...BUILT_IN_PRESETS, ...saved.filter((p) => p && typeof p.name === "string")];
  } catch {
    return [...BUILT_IN_PRESETS];
  }
}

export function savePreset(preset: Omit<Preset, "id">): Preset[] {
  const saved = loadPresets().filter((p) => !p.builtIn && p.name !== preset.name);
  const next = [...saved, { ...preset, id: `user-${Date.now()}` }];
  try {
    localStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    // Not persisted; still listed until reload.
  }
  return [...BUILT_IN_PRESETS, ...next];
}

export function deletePreset(id: string): Preset[] {
  const next = loadPresets().filter((p) => !p.builtIn && p.id !== id);
  try {
    localStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    // Ignored as above.
  }
  return [...BUILT_IN_PRESETS, ...next];
}

/** OpenAI chat-completions fields for these params (absent ones are left to the server). */
export function toWire(p: GenerationParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (p.temperature !== undefined) out.temperature = p.temperature;
  if (p.topP !== undefined) out.top_p = p.topP;
  if (p.topK !== undefined) out.top_k = p.topK;
  if (p.minP !== undefined) out.min_p = p.minP;
  if (p.maxTokens !== undefined) out.max_tokens = p.maxTokens;
  if (p.seed !== undefined) out.seed = p.seed;
  if (p.presencePenalty !== undefined) out.presence_penalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) out.frequency_penalty = p.frequencyPenalty;
  if (p.stop && p.stop.length > 0) out.stop = p.stop;
  if (p.reasoningEffort !== undefined) out.reasoning_effort = p.reasoningEffort;
  return out;
}

/** The reasoning control's choices: the model's own default (unset), then OpenAI's `reasoning_effort` levels. */
export const REASONING_CHOICES: readonly {
  value: NonNullable<GenerationParams["reasoningEffort"]> | "";
  label: string;
}[] = [
  { value: "", label: "Default" },
  { value: "none", label: "Off" },
  { value: "low", label: "Low" },
  { value: "medium", label: "Medium" },
  { value: "high", label: "High" },
];

/** The fields shown in the settings panel, with their ranges. */
export const PARAM_FIELDS: readonly {
  key: keyof Omit<GenerationParams, "stop" | "reasoningEffort">;
  label: string;
  min: number;
  max: number;
  step: number;
  hint: string;
}[] = [
  {
    key: "temperature",
    label: "Temperature",
    min: 0,
    max: 2,
    step: 0.05,
    hint: "Higher is more varied; 0 always picks the likeliest token.",
  },
  {
    key: "topP",
    label: "Top P",
    min: 0,
    max: 1,
    step: 0.01,
    hint: "Sample from the smallest set of tokens whose probabilities add up to this.",
  },
  {
    key: "topK",
    label: "Top K",
    min: 0,
    max: 200,
    step: 1,
    hint: "Sample from this many likeliest tokens; 0 turns it off.",
  },
  {
    key: "minP",
    label: "Min P",
    min: 0,
    max: 1,
    step: 0.01,
    hint: "Drop tokens less likely than this share of the likeliest one.",
  },
  { key: "maxTokens", label: "Max tokens", min: 1, max: 32768, step: 1, hint: "Longest reply, in tokens." },
  {
    key: "seed",
    label: "Seed",
    min: 0,
    max: 2147483647,
    step: 1,
    hint: "The same seed and settings give the same reply.",
  },
  {
    key: "presencePenalty",
    label: "Presence penalty",
    min: -2,
    max: 2,
    step: 0.1,
    hint: "Positive values favour new topics.",
  },
  {
    key: "frequencyPenalty",
    label: "Frequency penalty",
    min: -2,
    max: 2,
    step: 0.1,
    hint: "Positive values discourage repeating the same words.",
  },
];
