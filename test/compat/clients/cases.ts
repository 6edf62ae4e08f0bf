/**
 * The child side of the compatibility suite (test/compat/harness.ts): a client script names its
 * cases, each a function of the server's address and models that returns what the client saw;
 * they run one after another and the results go to stdout as one marked JSON line. Assertions stay
 * in the parent test file, under Node 20's test runner.
 */

/** What the parent passes in `HEARTH_COMPAT`. */
export interface CompatEnv {
  /** The server's origin, `http://127.0.0.1:<port>` (no `/v1`). */
  url: string;
  apiKey: string;
  /** Model ids by name: `stories260K` and the scripted models the file asked for. */
  models: Record<string, string>;
}

export type CaseOutcome = { ok: true; value: unknown } | { ok: false; error: string };

/** The line the parent looks for; anything a client library prints goes elsewhere on stdout. */
export const RESULTS_MARKER = "HEARTH-COMPAT-RESULTS ";

export async function runCases(cases: Record<string, (env: CompatEnv) => Promise<unknown>>): Promise<void> {
  const env = JSON.parse(process.env.HEARTH_COMPAT ?? "{}") as CompatEnv;
  const only = process.argv.slice(2);
  const results: Record<string, CaseOutcome> = {};
  for (const [name, fn] of Object.entries(cases)) {
    if (only.length > 0 && !only.includes(name)) continue;
    try {
      results[name] = { ok: true, value: (await fn(env)) ?? null };
    } catch (err) {
      results[name] = { ok: false, error: (err as Error)?.stack ?? String(err) };
    }
  }
  process.stdout.write(`\n${RESULTS_MARKER}${JSON.stringify(results)}\n`);
}
