/**
 * Sharing Hearth (issue 20): the "Serve on local network" switch, with the addresses to give
 * others, and the named API keys (create, list, revoke; a new key's secret is shown once). The
 * switch is the `host` setting, saved like every guarding setting (the desktop app asks first) and
 * applied at the next start; the server refuses it while there is no key, and this screen shows
 * that refusal as it comes.
 */
import { useState } from "react";
import { keys as keysApi, network as networkApi, type CreatedKey, type KeyScope } from "../api/access.js";
import { describeError } from "../api/errors.js";
import { canChangeProtected, settings as settingsApi, type SettingsView } from "../api/settings.js";
import { ConfirmDialog } from "../app/ConfirmDialog.js";
import { CopyButton } from "../app/CopyButton.js";
import { ErrorNote } from "../app/ErrorNote.js";
import { Field } from "../app/Field.js";
import { relativeTime } from "../history/dates.js";
import { showToast } from "../app/toast.js";
import { useAsync } from "../app/useAsync.js";

const limitText = (n: number, unit: string) => (n === 0 ? "no limit" : `${n.toLocaleString()} ${unit}/min`);

export function AccessSettings({ view, onView }: { view: SettingsView; onView: (v: SettingsView) => void }) {
  const [keysVersion, setKeysVersion] = useState(0);
  return (
    <>
      <NetworkSection view={view} onView={onView} keysVersion={keysVersion} />
      <KeysSection onChange={() => setKeysVersion((v) => v + 1)} />
    </>
  );
}

function NetworkSection({
  view,
  onView,
  keysVersion,
}: {
  view: SettingsView;
  onView: (v: SettingsView) => void;
  keysVersion: number;
}) {
  const state = useAsync((signal) => networkApi.get({ signal }), [view, keysVersion]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [said, setSaid] = useState("");
  const net = state.data;
  const locked = !canChangeProtected();

  const toggle = async (on: boolean) => {
    setBusy(true);
    setError(null);
    setSaid("");
    try {
      const next = await settingsApi.save({ host: on ? "0.0.0.0" : null }, view.protected ?? []);
      if (!next) return; // cancelled in the desktop app's dialog
      onView(next);
      const restart = next.restartRequired.includes("host");
      setSaid(
        on
          ? `Saved. ${restart ? "Restart Hearth to" : "Hearth will"} listen on every network interface; other computers need a key.`
          : `Saved. ${restart ? "After a restart, only" : "Only"} this computer can connect.`,
      );
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="section" aria-labelledby="network-title">
      <h2 id="network-title">Local network</h2>
      <div className="card">
        <label className="checkbox" style={{ marginBottom: 2 }}>
          <input
            type="checkbox"
            role="switch"
            checked={net?.savedEnabled ?? false}
            disabled={!net || busy || locked}
            aria-describedby="network-help"
            onChange={(e) => void toggle(e.target.checked)}
          />
          <span>
            Serve on local network
            {net?.restartRequired ? (
              <span className="badge warn" style={{ marginLeft: 6 }}>
                after restart
              </span>
            ) : null}
          </span>
        </label>
        <p className="field-help" id="network-help">
          {net?.enabled
            ? "Other computers on your network can connect now, each with an API key."
            : "Only this computer can connect."}{" "}
          Turning it on needs an API key first (below), and applies when Hearth restarts.
          {locked ? " It guards the server, so it changes only in the desktop app or on the command line." : ""}
        </p>
        {said ? (
          <p className="notice" role="status">
            {said}
          </p>
        ) : null}
        {error ? <ErrorNote error={error} /> : null}
        {state.error ? <ErrorNote error={state.error} onRetry={state.reload} /> : null}
        {net && net.urls.length > 0 ? (
          <div style={{ marginTop: 10 }}>
            <div className="muted" id="lan-urls-title">
              {net.enabled ? "Other computers reach Hearth at:" : "After the restart, other computers reach Hearth at:"}
            </div>
            <ul className="plain-list" aria-labelledby="lan-urls-title">
              {net.urls.map((u) => (
                <li key={u} className="copy-field">
                  <code>{`${u}/v1`}</code>
                  <CopyButton text={`${u}/v1`} label="Copy" className="button small labelled" />
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
    </section>
  );
}

function KeysSection({ onChange }: { onChange: () => void }) {
  const list = useAsync((signal) => keysApi.list({ signal }), []);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<KeyScope>("inference");
  const [rpm, setRpm] = useState("120");
  const [tpm, setTpm] = useState("100000");
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const create = async () => {
    setBusy(true);
    setError(null);
    try {
      const key = await keysApi.create({ name, scope, rpm: Number(rpm) || 0, tpm: Number(tpm) || 0 });
      setCreated(key);
      setName("");
      list.reload();
      onChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="section" aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <div className="card">
        <p className="muted" style={{ marginTop: 0 }}>
          A key for each person or tool that uses Hearth. <strong>Inference</strong> keys may chat (/v1, /v1/messages);{" "}
          <strong>admin</strong> keys may also manage Hearth. Limits are per minute; 0 means none.
        </p>
        {created ? (
          <div className="notice" role="status" aria-label="New key">
            <p style={{ marginTop: 0 }}>
              The key <strong>{created.name}</strong> is ready. Copy it now: it is not shown again.
            </p>
            <div className="copy-field">
              <code aria-label="New API key">{created.key}</code>
              <CopyButton text={created.key} label="Copy key" className="button small labelled" />
            </div>
            <button type="button" className="button small" style={{ marginTop: 8 }} onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        ) : null}
        <form
          className="form-grid"
          aria-label="Create an API key"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <Field label="Name" help="Who or what uses it, e.g. laptop or ci.">
            {(p) => <input {...p} value={name} maxLength={64} required onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Scope">
            {(p) => (
              <select {...p} value={scope} onChange={(e) => setScope(e.target.value as KeyScope)}>
                <option value="inference">inference</option>
                <option value="admin">admin</option>
              </select>
            )}
          </Field>
          <Field label="Requests per minute">
            {(p) => <input {...p} type="number" min={0} value={rpm} onChange={(e) => setRpm(e.target.value)} />}
          </Field>
          <Field label="Tokens per minute">
            {(p) => <input {...p} type="number" min={0} value={tpm} onChange={(e) => setTpm(e.target.value)} />}
          </Field>
          <div className="wide">
            <button type="submit" className="button primary" disabled={busy || name.trim() === ""}>
              Create key
            </button>
          </div>
        </form>
        {error ? <ErrorNote error={error} /> : null}
        {list.error ? <ErrorNote error={list.error} onRetry={list.reload} /> : null}
        {list.data && list.data.data.length > 0 ? (
          <table className="table" aria-label="API keys" style={{ marginTop: 12 }}>
            <thead>
              <tr>
                <th>Name</th>
                <th>Scope</th>
                <th>Limits</th>
                <th>Created</th>
                <th>Last used</th>
                <th>
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>{k.scope}</td>
                  <td>
                    {limitText(k.rpm, "requests")}, {limitText(k.tpm, "tokens")}
                  </td>
                  <td>{relativeTime(k.createdAt)}</td>
                  <td>{k.lastUsedAt === null ? "never" : relativeTime(k.lastUsedAt)}</td>
                  <td>
                    <button
                      type="button"
                      className="button small danger"
                      aria-label={`Revoke ${k.name}`}
                      onClick={() => setRevoking({ id: k.id, name: k.name })}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : list.data ? (
          <p className="muted">No keys yet.</p>
        ) : null}
      </div>
      {revoking ? (
        <ConfirmDialog
          title={`Revoke the key ${revoking.name}?`}
          confirmLabel="Revoke"
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            try {
              await keysApi.revoke(revoking.id);
              showToast({ message: `Revoked ${revoking.name}.` });
              list.reload();
              onChange();
            } catch (err) {
              showToast({ message: describeError(err).message });
            }
          }}
        >
          Requests with this key are refused from now on. This cannot be undone.
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
