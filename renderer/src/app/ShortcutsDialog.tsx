import { Dialog } from "./Dialog.js";
import { keyLabel, SHORTCUTS } from "./shortcuts.js";

export function ShortcutsDialog({ onClose }: { onClose: () => void }) {
  return (
    <Dialog title="Keyboard shortcuts" onClose={onClose}>
      <dl className="shortcut-list">
        {SHORTCUTS.map((s) => (
          <div key={s.action}>
            <dt>{s.label}</dt>
            <dd>
              <kbd>{keyLabel(s.keys)}</kbd>
            </dd>
          </div>
        ))}
        <div>
          <dt>Send message</dt>
          <dd>
            <kbd>Enter</kbd>
          </dd>
        </div>
        <div>
          <dt>New line</dt>
          <dd>
            <kbd>Shift+Enter</kbd>
          </dd>
        </div>
      </dl>
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </Dialog>
  );
}
