/** SlotPool (server/engine/slot-pool.ts): which free slot a request gets, FIFO waiters, a bounded queue. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { QueueFullError } from "../../server/errors.js";
import { SlotPool } from "../../server/engine/slot-pool.js";

const never = new AbortController().signal;
const flat = () => 0;

test("the highest score wins; ties go to never-used slots, then the one released longest ago", async () => {
  const pool = new SlotPool(["a", "b", "c"], 4);
  const a = await pool.acquire(flat, never);
  const b = await pool.acquire(flat, never);
  assert.deepEqual([a, b], ["a", "b"], "slots in order while none has been used");
  pool.release(b);
  pool.release(a);
  assert.equal(await pool.acquire(flat, never), "c", "an unused slot before a used one");
  assert.equal(await pool.acquire(flat, never), "b", "then the one released first");
  assert.equal(await pool.acquire((s) => (s === "a" ? 5 : 0), never), "a");
});

test("waiters are served in arrival order as slots come back, and the queue is bounded", async () => {
  const pool = new SlotPool(["only"], 2);
  const held = await pool.acquire(flat, never);
  const order: string[] = [];
  const first = pool.acquire(flat, never).then((s) => order.push(`first:${s}`));
  const second = pool.acquire(flat, never).then((s) => order.push(`second:${s}`));
  await assert.rejects(pool.acquire(flat, never), QueueFullError);
  assert.deepEqual(pool.stats, { size: 1, busy: 1, queued: 2 });
  pool.release(held);
  await first;
  pool.release("only");
  await second;
  assert.deepEqual(order, ["first:only", "second:only"]);
});

test("an aborted waiter leaves the queue", async () => {
  const pool = new SlotPool(["only"], 4);
  const held = await pool.acquire(flat, never);
  const controller = new AbortController();
  const waiting = pool.acquire(flat, controller.signal);
  controller.abort(new Error("client went away"));
  await assert.rejects(waiting, /client went away/);
  assert.equal(pool.stats.queued, 0);
  pool.release(held);
  assert.equal(pool.stats.busy, 0, "the slot went back to the free list, not to the aborted waiter");
});
