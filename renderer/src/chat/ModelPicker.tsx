/**
 * Chooses the model for a conversation from `GET /v1/models`: local models first, then each
 * remote provider's (`<provider>/<model>`), in the native select for keyboard and screen readers.
 */
import { useMemo } from "react";
import { v1 } from "../api/client.js";
import type { LibraryModelView } from "../api/models.js";
import { useAppEvent } from "../app/events.js";
import { useAsync } from "../app/useAsync.js";

/**
 * Whether the chat's model thinks before it answers (the settings panel then offers its Reasoning
 * control). A loaded model: what its chat format does (`loaded.thinks`). Not loaded: what was
 * learned when it last was (`learned`), else what its file says (`facts.thinks`, from the scan), so
 * a thinking model shows the control before its first load. Remote and unknown models: no.
 */
export function thinksOf(
  view: Pick<LibraryModelView, "loaded" | "facts"> | undefined,
  learned: boolean | undefined,
): boolean {
  if (view?.loaded) return view.loaded.thinks;
  return learned ?? view?.facts?.thinks ?? false;
}

export interface ModelOption {
  id: string;
  group: string;
}

export function groupModels(models: { id: string; owned_by: string }[]): Map<string, ModelOption[]> {
  const groups = new Map<string, ModelOption[]>();
  for (const m of models) {
    const group =
      m.owned_by === "local" ? "On this computer" : m.id.includes("/") ? m.id.slice(0, m.id.indexOf("/")) : m.owned_by;
    groups.set(group, [...(groups.get(group) ?? []), { id: m.id, group }]);
  }
  return new Map(
    [...groups.entries()].sort(([a], [b]) =>
      a === "On this computer" ? -1 : b === "On this computer" ? 1 : a.localeCompare(b),
    ),
  );
}

export function useModels() {
  const state = useAsync((signal) => v1.models({ signal }), []);
  useAppEvent("models", state.reload);
  useAppEvent("providers", state.reload);
  return state;
}

export function ModelPicker({
  value,
  onChange,
  models,
}: {
  value: string;
  onChange: (id: string) => void;
  models: { id: string; owned_by: string }[];
}) {
  const groups = useMemo(() => groupModels(models), [models]);
  const known = models.some((m) => m.id === value);
  return (
    <label className="model-picker">
      <span className="visually-hidden">Model</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="Model">
        {models.length === 0 ? <option value="">No model available</option> : null}
        {!known && value ? <option value={value}>{value} (not available)</option> : null}
        {[...groups.entries()].map(([group, options]) => (
          <optgroup key={group} label={group}>
            {options.map((o) => (
              <option key={o.id} value={o.id}>
                {o.group === "On this computer" ? o.id : o.id.slice(o.group.length + 1) || o.id}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
    </label>
  );
}
