/**
 * Settings -> MCP servers: every server the chats can use (from mcp.json and from here), its
 * state, its last error and its tools; HTTP servers added, restarted and removed here. A server
 * that runs a command is added in mcp.json (README "MCP servers in the chat", "Safety").
 */
import { useState } from "react";
import { mcp, type McpServerView } from "../api/mcp.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { useAsync } from "../app/useAsync.js";

export function McpServersSection() {
  const state = useAsync((signal) => mcp.list({ signal }), []);
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [auth, setAuth] = useState("");
  const [command, setCommand] = useState("");
  const canAddCommand = mcp.canAddCommand();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const act = async (key: string, work: () => Promise<unknown>) => {
    setBusy(key);
    setError(null);
    try {
      await work();
      state.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="section" aria-labelledby="mcp-title">
      <h2 id="mcp-title">MCP servers</h2>
      <div className="card">
        <p className="muted" style={{ marginTop: 0 }}>
          Tools chats can use. Servers that run a command on this computer go in{" "}
          <code>{state.data?.file ?? "mcp.json"}</code> (the <code>mcpServers</code> shape of Claude Desktop, Cursor and
          LM Studio); HTTP servers can be added here. Header values are kept as secrets and never shown again.
        </p>
        {state.error ? <ErrorNote error={state.error} onRetry={state.reload} /> : null}
        <ul className="mcp-servers" aria-label="MCP servers">
          {(state.data?.data ?? []).map((s: McpServerView) => (
            <li key={s.name} className="mcp-server" data-state={s.state}>
              <div>
                <strong>{s.name}</strong> <span className="muted">({s.transport === "stdio" ? s.command : s.url})</span>{" "}
                <span className="badge" aria-label={`State of ${s.name}`}>
                  {s.state}
                </span>{" "}
                <span className="muted">{s.source === "file" ? "mcp.json" : "added here"}</span>
              </div>
              {s.error ? <p className="message-note error">{s.error}</p> : null}
              {s.tools.length > 0 ? <p className="muted">Tools: {s.tools.map((t) => t.name).join(", ")}</p> : null}
              <div className="page-actions">
                <button
                  type="button"
                  className="button small"
                  disabled={busy !== null}
                  onClick={() => void act(`restart:${s.name}`, () => mcp.restart(s.name))}
                >
                  {s.state === "running" ? "Restart" : "Start"}
                </button>
                {s.source === "settings" ? (
                  <button
                    type="button"
                    className="button small"
                    disabled={busy !== null}
                    onClick={() => void act(`remove:${s.name}`, () => mcp.remove(s.name))}
                  >
                    Remove
                  </button>
                ) : null}
              </div>
            </li>
          ))}
        </ul>
        {state.data && state.data.data.length === 0 ? <p className="muted">No MCP servers yet.</p> : null}
        <form
          className="mcp-add"
          aria-label="Add an MCP server"
          onSubmit={(e) => {
            e.preventDefault();
            void act("add", async () => {
              await mcp.add({ name, url, ...(auth ? { headers: { Authorization: auth } } : {}) });
              setName("");
              setUrl("");
              setAuth("");
            });
          }}
        >
          <input aria-label="Server name" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} />
          <input
            aria-label="Server URL"
            placeholder="https://example.com/mcp"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
          <input
            aria-label="Authorization header"
            placeholder="Authorization header (optional)"
            type="password"
            value={auth}
            onChange={(e) => setAuth(e.target.value)}
          />
          <button type="submit" className="button small primary" disabled={!name || !url || busy !== null}>
            Add HTTP server
          </button>
        </form>
        {canAddCommand ? (
          <form
            className="mcp-add"
            aria-label="Add an MCP server that runs a command"
            onSubmit={(e) => {
              e.preventDefault();
              // Words split at spaces; the app shows the person the exact command before it is added.
              const [program, ...args] = command.trim().split(/\s+/u);
              void act("add-command", async () => {
                if (await mcp.addCommand({ name, command: program!, args })) {
                  setName("");
                  setCommand("");
                }
              });
            }}
          >
            <input
              aria-label="Command"
              placeholder="npx -y @modelcontextprotocol/server-filesystem /home/me/notes"
              value={command}
              onChange={(e) => setCommand(e.target.value)}
            />
            <button type="submit" className="button small" disabled={!name || !command.trim() || busy !== null}>
              Add command server
            </button>
          </form>
        ) : null}
        {error ? <ErrorNote error={error} /> : null}
      </div>
    </section>
  );
}
