/**
 * Worker-thread entry for the placement measurement: runs the bare loop off the main thread and
 * posts the round's result back, so the main thread can be kept busy meanwhile.
 */
import { parentPort, workerData } from "node:worker_threads";
import { BareEngine, type BareSetup } from "./_bare.js";

const { setup, concurrency, maxTokens, rounds } = workerData as {
  setup: BareSetup;
  concurrency: number;
  maxTokens: number;
  rounds: number;
};
const engine = await BareEngine.open(setup);
await engine.round(1, 8, 1);
parentPort?.postMessage({ ready: true });
parentPort?.once("message", async () => {
  const results = [];
  for (let r = 0; r < rounds; r++) results.push(await engine.round(concurrency, maxTokens, 100 + r * concurrency));
  await engine.close();
  parentPort?.postMessage({ results });
});
