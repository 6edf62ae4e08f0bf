/** The message box: Enter sends, Shift+Enter adds a line, and while a reply streams the button stops it. */
import { forwardRef, useImperativeHandle, useLayoutEffect, useRef, useState } from "react";
import { Icon } from "../app/Icon.js";

export interface ComposerHandle {
  focus(): void;
}

interface ComposerProps {
  busy: boolean;
  disabled: boolean;
  disabledReason?: string;
  onSend: (text: string) => void;
  onStop: () => void;
}

export const Composer = forwardRef<ComposerHandle, ComposerProps>(function Composer(
  { busy, disabled, disabledReason, onSend, onStop },
  ref,
) {
  const [text, setText] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);
  useImperativeHandle(ref, () => ({ focus: () => area.current?.focus() }), []);

  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, 240)}px`;
  }, [text]);

  const submit = () => {
    if (busy || disabled || !text.trim()) return;
    onSend(text);
    setText("");
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <textarea
        ref={area}
        rows={1}
        value={text}
        placeholder={disabled && disabledReason ? disabledReason : "Message Hearth"}
        aria-label="Message"
        autoFocus
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            submit();
          }
        }}
      />
      {busy ? (
        <button
          type="button"
          className="send-button stop"
          aria-label="Stop generating"
          title="Stop (Esc)"
          onClick={onStop}
        >
          <Icon name="stop" />
        </button>
      ) : (
        <button
          type="submit"
          className="send-button"
          aria-label="Send message"
          title="Send (Enter)"
          disabled={disabled || !text.trim()}
        >
          <Icon name="send" />
        </button>
      )}
    </form>
  );
});
