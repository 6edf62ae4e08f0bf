import type { ReactNode } from "react";
import { Dialog } from "./Dialog.js";

/**
 * A question before something that cannot be undone: what happens, in words, then Cancel (focused
 * first, so Enter does nothing harmful; Escape cancels too) and one danger button that closes the
 * dialog and acts.
 */
export function ConfirmDialog({
  title,
  confirmLabel,
  onConfirm,
  onClose,
  children,
}: {
  title: string;
  /** The danger button's label: the verb ("Delete", "Remove"). */
  confirmLabel: string;
  /** Runs after the dialog asked to close; report its failures yourself (a toast). */
  onConfirm: () => void | Promise<void>;
  onClose: () => void;
  /** What the action does, shown under the title. */
  children: ReactNode;
}) {
  return (
    <Dialog title={title} onClose={onClose}>
      <p className="muted">{children}</p>
      <div className="dialog-actions">
        <button type="button" className="button" onClick={onClose} autoFocus>
          Cancel
        </button>
        <button
          type="button"
          className="button danger"
          onClick={() => {
            onClose();
            void onConfirm();
          }}
        >
          {confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
