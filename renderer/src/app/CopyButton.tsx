import { useEffect, useState } from "react";
import { copyText } from "./clipboard.js";
import { Icon } from "./Icon.js";

/** A small button that copies `text` and says so for a moment. */
export function CopyButton({
  text,
  label = "Copy",
  className = "icon-button",
}: {
  text: string | (() => string);
  label?: string;
  className?: string;
}) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const t = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(t);
  }, [copied]);
  return (
    <button
      type="button"
      className={className}
      aria-label={copied ? "Copied" : label}
      title={copied ? "Copied" : label}
      onClick={async () => setCopied(await copyText(typeof text === "function" ? text() : text))}
    >
      <Icon name={copied ? "check" : "copy"} />
      {className.includes("labelled") ? <span>{copied ? "Copied" : label}</span> : null}
    </button>
  );
}
