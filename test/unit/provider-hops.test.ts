import assert from "node:assert/strict";
import { test } from "node:test";
import { outboundVia, withHops } from "../../server/providers/hops.js";

const self = "a".repeat(24);
const earlier = "b".repeat(24);

test("a request's hops reach the providers it calls, across awaits", async () => {
  const via = await withHops([earlier], async () => {
    await new Promise((r) => setTimeout(r, 1));
    return outboundVia(self);
  });
  assert.equal(via, `${earlier}, ${self}`);
});

test("a request without hops sends only this server's id, even inside one that had hops", async () => {
  assert.equal(await withHops([], async () => outboundVia(self)), self);
  // A request without hops that starts while a proxied one is running must not inherit its list.
  const nested = await withHops([earlier], () => withHops([], async () => outboundVia(self)));
  assert.equal(nested, self);
  assert.equal(outboundVia(self), self);
});
