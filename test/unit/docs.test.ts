/**
 * The repository's documents stay true to the tree: docs/ is the source of truth (no reference to
 * the starting brief's copy outside the repository), relative links resolve, the sections code
 * comments cite exist, and server/README-dev.md's component table lists exactly what server/ holds.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

const root = path.resolve(import.meta.dirname, "..", "..");
/** Built, not written out, so this file does not match itself. */
const OUTSIDE_DOCS = ["shared", "docs"].join("/");
const SELF = "test/unit/docs.test.ts";
const SKIP_DIRS = new Set([".git", "node_modules", "dist", "dist-electron", "release", "test-results", "results"]);

/** Tracked and new (not ignored) files; a walk of the tree where there is no git checkout. */
function repoFiles(): string[] {
  const git = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  });
  if (git.status === 0 && git.stdout) {
    return git.stdout
      .split("\0")
      .filter((f) => f && !f.startsWith("node_modules") && fs.existsSync(path.join(root, f)));
  }
  const walk = (dir: string): string[] =>
    fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) return SKIP_DIRS.has(e.name) ? [] : walk(rel);
      return e.isFile() ? [rel] : [];
    });
  return walk("");
}

/** Text files only (a NUL byte means binary), keyed by repository-relative path. */
function textFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of repoFiles()) {
    const buf = fs.readFileSync(path.join(root, f));
    if (!buf.includes(0)) out.set(f, buf.toString("utf8"));
  }
  return out;
}

const files = textFiles();
const read = (f: string) => {
  const text = files.get(f);
  assert.ok(text !== undefined, `${f} exists`);
  return text;
};

/** Joins comment continuation lines (` * `, `// `, `# `), so a citation broken over two lines reads as one. */
const flatten = (text: string) => text.replace(/\s*\n\s*(?:\*(?!\/)|\/\/|#(?!#))?\s*/g, " ");

/** Markdown headings of a file, lower-cased. */
const headings = (text: string) =>
  text
    .split("\n")
    .filter((l) => /^#{1,6} /.test(l))
    .map((l) => l.replace(/^#+ /, "").toLowerCase());

test(`no file refers to the starting brief's ${OUTSIDE_DOCS}: docs/ is the source of truth`, () => {
  const offending = [...files].filter(([, text]) => text.includes(OUTSIDE_DOCS)).map(([f]) => f);
  assert.deepEqual(offending, [], `point these at docs/ instead: ${offending.join(", ")}`);
});

test("every relative link in the Markdown files resolves to a file in the repository", () => {
  const broken: string[] = [];
  for (const [f, text] of files) {
    if (!f.endsWith(".md")) continue;
    // Code blocks and code spans are not links.
    const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
    for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
      const file = decodeURIComponent(target.split("#")[0]!);
      if (!fs.existsSync(path.resolve(root, path.dirname(f), file))) broken.push(`${f}: ${target}`);
    }
  }
  assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
});

test("every § citation names a section of docs/ENGINE-NOTES.md", () => {
  // In this repository § always means a section of the engine notes: §N is "## N.", §N.M is
  // "### N.M", and §0.N is item "**0.N" of the list in section 0.
  const notes = read("docs/ENGINE-NOTES.md");
  const exists = (ref: string) => {
    const [major, minor] = ref.split(".");
    if (minor === undefined) return new RegExp(`^## ${major}\\. `, "m").test(notes);
    if (major === "0") return notes.includes(`**0.${minor} `);
    return new RegExp(`^### ${major}\\.${minor} `, "m").test(notes);
  };
  const missing: string[] = [];
  for (const [f, text] of files) {
    for (const m of text.matchAll(/§\s?(\d+(?:\.\d+)?)/g)) if (!exists(m[1]!)) missing.push(`${f}: §${m[1]}`);
  }
  assert.deepEqual(missing, [], `cited sections that docs/ENGINE-NOTES.md lacks:\n${missing.join("\n")}`);
});

test("STYLE.md rules, ARCHITECTURE.md sections and BENCHMARKS.md sections cited in the code exist", () => {
  const style = read("docs/STYLE.md");
  const architecture = headings(read("docs/ARCHITECTURE.md"));
  const benchmarks = headings(read("BENCHMARKS.md"));
  const missing: string[] = [];
  for (const [f, raw] of files) {
    if (f === SELF) continue; // its patterns are not citations
    const text = flatten(raw);
    for (const m of text.matchAll(/STYLE\.md #(\d+)/g))
      if (!new RegExp(`^${m[1]}\\. `, "m").test(style)) missing.push(`${f}: STYLE.md #${m[1]}`);
    for (const m of text.matchAll(/ARCHITECTURE\.md\)?,? "([^"]+)"/g))
      if (!architecture.some((h) => h.includes(m[1]!.toLowerCase()))) missing.push(`${f}: ARCHITECTURE.md "${m[1]}"`);
    for (const m of text.matchAll(/BENCHMARKS\.md\)?,? "([^"]+)"/g))
      if (!benchmarks.some((h) => h.includes(m[1]!.toLowerCase()))) missing.push(`${f}: BENCHMARKS.md "${m[1]}"`);
  }
  assert.deepEqual(missing, [], `citations of sections that do not exist:\n${missing.join("\n")}`);
});

test("server/README-dev.md's component table lists exactly the folders and files of server/", () => {
  const readme = read("server/README-dev.md");
  const table = readme.slice(readme.indexOf("## Components"), readme.indexOf("\n## ", readme.indexOf("## Components")));
  const listed = [...table.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!.replace(/\/$/, ""));
  const actual = fs
    .readdirSync(path.join(root, "server"))
    .filter((name) => name !== "README-dev.md")
    .sort();
  const missing = actual.filter((name) => !listed.includes(name));
  const stale = listed.filter((name) => !actual.includes(name));
  assert.deepEqual(missing, [], `add rows for: ${missing.join(", ")}`);
  assert.deepEqual(stale, [], `rows for entries that no longer exist: ${stale.join(", ")}`);
});
