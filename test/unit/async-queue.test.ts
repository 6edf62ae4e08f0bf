import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AsyncQueue } from "../../server/util/async-queue.js";

async function drain<T>(queue: AsyncQueue<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of queue) items.push(item);
    return { items, error: null };
  } catch (error) {
    return { items, error };
  }
}

describe("AsyncQueue", () => {
  test("without a wake policy a waiting consumer gets each item at once, in order, then the end", async () => {
    const queue = new AsyncQueue<number>();
    const result = drain(queue);
    queue.push(1);
    queue.push(2);
    queue.end();
    assert.deepEqual(await result, { items: [1, 2], error: null });
  });

  test("with a wake policy the consumer hears of items only when it says, and takes what came meanwhile together", async () => {
    const wakes: (() => void)[] = [];
    const queue = new AsyncQueue<number>(undefined, (deliver) => wakes.push(deliver));
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const n of queue) seen.push(n);
    })();
    await new Promise((r) => setImmediate(r));
    queue.push(1);
    queue.push(2);
    queue.push(3);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [], "nothing is delivered before the wake-up");
    assert.equal(wakes.length, 1, "one wake-up for the items pushed while it was pending");
    wakes.shift()!();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [1, 2, 3], "the items that came meanwhile are taken in one go, in order");
    queue.push(4);
    queue.end();
    assert.equal(wakes.length, 1, "a new item after a delivery asks for a new wake-up");
    wakes.shift()!();
    await consumer;
    assert.deepEqual(seen, [1, 2, 3, 4], "the end comes after the last item, never instead of it");
  });

  test("an error waits behind the items pushed before it", async () => {
    const queue = new AsyncQueue<string>(undefined, (deliver) => setImmediate(deliver));
    const result = drain(queue);
    await new Promise((r) => setImmediate(r));
    queue.push("a");
    queue.push("b");
    queue.fail(new Error("boom"));
    const { items, error } = await result;
    assert.deepEqual(items, ["a", "b"]);
    assert.match(String(error), /boom/);
  });

  test("leaving the loop early calls onReturn once and drops what is queued", async () => {
    let returned = 0;
    const queue = new AsyncQueue<number>(
      () => returned++,
      (deliver) => setImmediate(deliver),
    );
    queue.push(1);
    queue.push(2);
    for await (const n of queue) {
      assert.equal(n, 1, "the first item");
      break;
    }
    queue.push(3);
    assert.equal(returned, 1, "onReturn ran once");
    assert.deepEqual(await drain(queue), { items: [], error: null });
  });
});
