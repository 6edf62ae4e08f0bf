/**
 * `npm run bench -- gpu --quick` end to end (bench/gpu.ts through bench/run.ts), on whatever this
 * machine has: without CUDA, every GPU row says "not run: no GPU" and the CPU rows carry numbers;
 * with CUDA, the GPU rows carry them too and every layer is offloaded. No speed is asserted.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { getLlamaGpuTypes } from "node-llama-cpp";
import { testModelPath } from "../helpers/models.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

interface Row {
  module: string;
  name: string;
  metrics: Record<string, number>;
  notes?: string;
}

test("the GPU bench runs its CPU side, and marks or measures its GPU side, and writes JSON where --out says", async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-gpu-test-"));
  const defaultResults = path.join(repoRoot, "bench", "results", "latest.md");
  const statOf = (f: string) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : null);
  const resultsBefore = statOf(defaultResults);
  try {
    const model = await testModelPath();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "bench/run.ts", "gpu", "--quick", "--model", model, "--out", out],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0, `exit code; stderr: ${stderr.slice(-2000)}`);

    const files = fs.readdirSync(out);
    const json = files.filter((f) => f.endsWith(".json"));
    assert.equal(json.length, 1, `one JSON file in --out: ${files.join(", ")}`);
    assert.ok(files.includes("latest.md"));
    assert.equal(statOf(defaultResults), resultsBefore, "nothing written to bench/results");
    const report = JSON.parse(fs.readFileSync(path.join(out, json[0]!), "utf8")) as { quick: boolean; results: Row[] };
    assert.equal(report.quick, true);
    const rows = report.results;
    assert.ok(
      rows.every((r) => r.module === "gpu"),
      "only the named module ran",
    );
    assert.ok(!rows.some((r) => r.name.endsWith("FAILED")), rows.map((r) => `${r.name}: ${r.notes}`).join("\n"));
    const label = path.basename(model).replace(/\.gguf$/, "");
    const row = (name: string) => {
      const r = rows.find((x) => x.name === `${label} ${name}`);
      assert.ok(r, `a row '${label} ${name}' in ${rows.map((x) => x.name).join(" | ")}`);
      return r;
    };

    // The CPU side: the engine, the sweep (1 and 2 in quick mode) streaming, the long prompt.
    assert.equal(row("cpu: engine").metrics.parallel! > 0, true);
    for (const c of [1, 2]) {
      const level = row(`cpu c=${c} stream`);
      assert.ok(level.metrics.aggregate_tok_s! > 0, `c=${c} generated`);
      assert.ok(Number.isFinite(level.metrics.ttft_p50_ms) && Number.isFinite(level.metrics.ttft_p95_ms));
      assert.equal(level.metrics.requests, Math.max(2, c), `c=${c}: every request answered`);
      assert.ok(level.metrics.tokens! <= level.metrics.requests! * 8, "max_tokens 8 held");
    }
    const prompt = row("cpu: time to first token, ~256-token prompt");
    assert.ok(
      prompt.metrics.prompt_tokens! >= 200 && prompt.metrics.prompt_tokens! <= 320,
      `prompt tokens ${prompt.metrics.prompt_tokens}`,
    );
    assert.ok(prompt.metrics.ttft_ms! > 0);

    // The GPU side: marked where there is none, measured where there is.
    const gpuRows = rows.filter((r) => r.name.startsWith(`${label} gpu`));
    assert.equal(gpuRows.length, 4, "offload, c=1, c=2, the long prompt");
    const comparison = rows.find((r) => r.name === `${label}: GPU over CPU`);
    assert.ok(comparison);
    if (!(await getLlamaGpuTypes("supported")).includes("cuda")) {
      for (const r of gpuRows) {
        assert.match(r.notes ?? "", /^not run: no GPU/, r.name);
        assert.deepEqual(r.metrics, {}, r.name);
      }
      assert.equal(comparison.notes, "not run: no GPU");
      assert.match(stderr, /not run: no GPU/, "it says so as it runs");
      assert.match(stdout, /not run: no GPU/, "and in the table");
    } else {
      const offload = row("gpu: offload");
      assert.equal(offload.metrics.gpu_layers, offload.metrics.total_layers, "every layer on the GPU");
      assert.ok(row("gpu c=2 stream").metrics.aggregate_tok_s! > 0);
      assert.ok(comparison.metrics.c1_tok_s_gpu_over_cpu! > 0);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
