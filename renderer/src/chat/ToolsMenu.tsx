/**
 * The chat's tools menu: each MCP server's tools (the server is started to list them), with a
 * switch per tool for this chat. A server that cannot start says why; servers are configured in
 * `mcp.json` or Settings.
 */
import { useEffect, useState } from "react";
import type { ConversationTool } from "../api/history.js";
import { mcp, type McpServerView, type McpToolView } from "../api/mcp.js";
import { Icon } from "../app/Icon.js";
import { routeHref } from "../app/route.js";

type Listed = { server: McpServerView; tools: McpToolView[] | null; error: string | null };

export function ToolsMenu({
  value,
  onChange,
}: {
  value: ConversationTool[];
  onChange: (next: ConversationTool[]) => void;
}) {
  const [open, setOpen] = useState(false);
  const [listed, setListed] = useState<Listed[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!open) return;
    const controller = new AbortController();
    const signal = controller.signal;
    mcp.list({ signal }).then(
      async (list) => {
        const servers = list.data.filter((s) => !s.disabled);
        setListed(servers.map((server) => ({ server, tools: null, error: null })));
        await Promise.all(
          servers.map((server) =>
            mcp.tools(server.name, { signal }).then(
              (tools) => setListed((l) => l?.map((x) => (x.server.name === server.name ? { ...x, tools } : x)) ?? l),
              (err: unknown) =>
                setListed(
                  (l) =>
                    l?.map((x) => (x.server.name === server.name ? { ...x, error: (err as Error).message } : x)) ?? l,
                ),
            ),
          ),
        );
      },
      (err: unknown) => setError((err as Error).message),
    );
    return () => controller.abort();
  }, [open]);

  const enabled = (server: string, tool: string) => value.some((t) => t.server === server && t.tool === tool);
  const toggle = (server: string, tool: string) =>
    onChange(
      enabled(server, tool)
        ? value.filter((t) => !(t.server === server && t.tool === tool))
        : [...value, { server, tool, approval: "ask" }],
    );

  return (
    <div className="tools-menu">
      <button
        type="button"
        className={open ? "icon-button active" : "icon-button"}
        aria-label="Tools"
        aria-expanded={open}
        title="Tools this chat may use"
        onClick={() => setOpen((o) => !o)}
      >
        <Icon name="tool" />
        {value.length > 0 ? <span className="tools-count">{value.length}</span> : null}
      </button>
      {open ? (
        <div className="tools-popover" role="dialog" aria-label="Tools for this chat">
          <div className="tools-popover-head">
            <strong>Tools</strong>
            <a href={routeHref({ name: "settings" })}>MCP servers…</a>
          </div>
          {error ? <p className="message-note error">{error}</p> : null}
          {listed === null && !error ? <p className="muted">Loading…</p> : null}
          {listed?.length === 0 ? (
            <p className="muted">No MCP servers yet: add them in Settings or in mcp.json.</p>
          ) : null}
          {listed?.map(({ server, tools, error: serverError }) => (
            <fieldset key={server.name} className="tools-server">
              <legend>{server.name}</legend>
              {serverError ? <p className="message-note error">{serverError}</p> : null}
              {tools === null && !serverError ? <p className="muted">Starting…</p> : null}
              {tools?.map((tool) => (
                <label key={tool.name} className="tools-tool" title={tool.description ?? undefined}>
                  <input
                    type="checkbox"
                    checked={enabled(server.name, tool.name)}
                    aria-label={`${server.name} ${tool.name}`}
                    onChange={() => toggle(server.name, tool.name)}
                  />
                  <span>{tool.title ?? tool.name}</span>
                </label>
              ))}
            </fieldset>
          ))}
        </div>
      ) : null}
    </div>
  );
}
