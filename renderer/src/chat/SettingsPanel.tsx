/**
 * The conversation's system prompt and generation parameters, with presets. Changes apply to the
 * next turn; the chat view saves them on the conversation. The reasoning control is shown for a
 * model known to think (or once the chat has set it, so it can be put back).
 */
import { useState } from "react";
import type { GenerationParams } from "../api/history.js";
import { Icon } from "../app/Icon.js";
import { deletePreset, loadPresets, PARAM_FIELDS, REASONING_CHOICES, savePreset, type Preset } from "./params.js";

interface SettingsPanelProps {
  systemPrompt: string;
  params: GenerationParams;
  /** The chat's model thinks before it answers: offer the reasoning control. */
  thinks: boolean;
  onChange: (next: { systemPrompt: string; params: GenerationParams }) => void;
  onClose: () => void;
}

export function SettingsPanel({ systemPrompt, params, thinks, onChange, onClose }: SettingsPanelProps) {
  const [presets, setPresets] = useState<Preset[]>(loadPresets);
  const [presetName, setPresetName] = useState("");
  // The raw text keeps a half-typed line; only non-empty lines become stop sequences.
  const [stopText, setStopText] = useState((params.stop ?? []).join("\n"));

  const setParam = (key: keyof GenerationParams, raw: string) => {
    const next = { ...params };
    if (raw.trim() === "") delete next[key];
    else {
      const n = Number(raw);
      if (!Number.isFinite(n)) return;
      (next as Record<string, number>)[key] = n;
    }
    onChange({ systemPrompt, params: next });
  };

  return (
    <aside className="settings-panel" aria-label="Chat settings">
      <div className="panel-header">
        <h2>Chat settings</h2>
        <button type="button" className="icon-button" aria-label="Close chat settings" onClick={onClose}>
          <Icon name="x" />
        </button>
      </div>
      <label className="field">
        <span>Preset</span>
        <select
          aria-label="Preset"
          value=""
          onChange={(e) => {
            const p = presets.find((x) => x.id === e.target.value);
            if (p) onChange({ systemPrompt: p.systemPrompt || systemPrompt, params: { ...p.params } });
          }}
        >
          <option value="">Apply a preset…</option>
          {presets.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        <span>System prompt</span>
        <textarea
          rows={5}
          value={systemPrompt}
          placeholder="How the model should behave in this chat"
          onChange={(e) => onChange({ systemPrompt: e.target.value, params })}
        />
      </label>
      {thinks || params.reasoningEffort !== undefined ? (
        <label className="field" title="How hard the model thinks before it answers; Off answers without thinking.">
          <span>Reasoning</span>
          <select
            aria-label="Reasoning"
            value={params.reasoningEffort ?? ""}
            onChange={(e) => {
              const next = { ...params };
              const choice = REASONING_CHOICES.find((c) => c.value === e.target.value)?.value;
              if (choice) next.reasoningEffort = choice;
              else delete next.reasoningEffort;
              onChange({ systemPrompt, params: next });
            }}
          >
            {REASONING_CHOICES.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <div className="param-grid">
        {PARAM_FIELDS.map((f) => (
          <label key={f.key} className="field" title={f.hint}>
            <span>{f.label}</span>
            <input
              type="number"
              inputMode="decimal"
              min={f.min}
              max={f.max}
              step={f.step}
              placeholder="default"
              value={params[f.key] ?? ""}
              onChange={(e) => setParam(f.key, e.target.value)}
            />
          </label>
        ))}
      </div>
      <label className="field">
        <span>Stop sequences (one per line)</span>
        <textarea
          rows={2}
          value={stopText}
          onChange={(e) => {
            setStopText(e.target.value);
            const stop = e.target.value
              .split("\n")
              .filter((s) => s !== "")
              .slice(0, 4);
            const next = { ...params };
            if (stop.length === 0) delete next.stop;
            else next.stop = stop;
            onChange({ systemPrompt, params: next });
          }}
        />
      </label>
      <button type="button" className="button small" onClick={() => onChange({ systemPrompt, params: {} })}>
        Reset to defaults
      </button>
      <form
        className="preset-save"
        onSubmit={(e) => {
          e.preventDefault();
          if (!presetName.trim()) return;
          setPresets(savePreset({ name: presetName.trim(), systemPrompt, params }));
          setPresetName("");
        }}
      >
        <label className="field">
          <span>Save these settings as a preset</span>
          <input value={presetName} placeholder="Preset name" onChange={(e) => setPresetName(e.target.value)} />
        </label>
        <button type="submit" className="button small" disabled={!presetName.trim()}>
          Save preset
        </button>
      </form>
      {presets.some((p) => !p.builtIn) ? (
        <ul className="preset-list" aria-label="Your presets">
          {presets
            .filter((p) => !p.builtIn)
            .map((p) => (
              <li key={p.id}>
                <span>{p.name}</span>
                <button
                  type="button"
                  className="icon-button small"
                  aria-label={`Delete preset ${p.name}`}
                  onClick={() => setPresets(deletePreset(p.id))}
                >
                  <Icon name="trash" />
                </button>
              </li>
            ))}
        </ul>
      ) : null}
    </aside>
  );
}
