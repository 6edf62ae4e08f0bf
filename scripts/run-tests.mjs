#!/usr/bin/env node
// Runs every test file under test/ with node's own test runner (through tsx for TypeScript).
// Files run two at a time: these machines have two cores and most tests load a real model.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const tiers =
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["unit", "integration", "compat", "e2e", "electron"];

function collect(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return collect(p);
    return /\.test\.(ts|tsx|mts)$/.test(e.name) ? [p] : [];
  });
}

const files = tiers.flatMap((t) => collect(path.join(root, "test", t))).sort();
if (files.length === 0) {
  console.error("No test files found.");
  process.exit(1);
}
const concurrency = process.env.HEARTH_TEST_CONCURRENCY ?? "2";
const result = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${concurrency}`,
    "--test-reporter=spec",
    ...files.map((f) => path.relative(root, f)),
  ],
  { cwd: root, stdio: "inherit", env: { ...process.env, HEARTH_LOG_LEVEL: process.env.HEARTH_LOG_LEVEL ?? "silent" } },
);
process.exit(result.status ?? 1);
