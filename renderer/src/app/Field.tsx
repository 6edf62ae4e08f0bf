import { useId, type ReactNode } from "react";

/**
 * A labelled control with optional help text. The help is linked with aria-describedby rather
 * than put inside the <label>, so a screen reader reads a short name, then the help.
 */
export function Field({
  label,
  help,
  className = "field",
  children,
}: {
  label: ReactNode;
  help?: ReactNode;
  className?: string;
  children: (props: { id: string; "aria-describedby"?: string }) => ReactNode;
}) {
  const id = useId();
  const helpId = `${id}-help`;
  return (
    <div className={className}>
      <label htmlFor={id}>
        <span>{label}</span>
      </label>
      {children(help ? { id, "aria-describedby": helpId } : { id })}
      {help ? (
        <span className="field-help" id={helpId}>
          {help}
        </span>
      ) : null}
    </div>
  );
}
