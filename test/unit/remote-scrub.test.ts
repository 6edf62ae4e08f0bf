/** The scrubber that keeps a provider's secrets out of upstream text, in every form an upstream may echo them. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { secretScrubber } from "../../server/providers/scrub.js";

const KEY = "sk-proj-Q7f2Lm9XwR4tZb81";
const HEADER = "org-lab-5c9e1a77";
const scrub = secretScrubber([KEY, HEADER], { maxLength: 200 });
const fullWidth = (s: string) => s.replace(/[A-Za-z0-9]/g, (c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0));

describe("secretScrubber", () => {
  // [how the upstream echoed it, the text, what must come out]
  const cases: [string, string, string][] = [
    ["as sent", `Incorrect API key provided: ${KEY}.`, "Incorrect API key provided: [redacted]."],
    ["upper-cased", `Incorrect API key provided: ${KEY.toUpperCase()}.`, "Incorrect API key provided: [redacted]."],
    [
      "split by spaces",
      `key ${KEY.slice(0, 9)} ${KEY.slice(9, 16)} ${KEY.slice(16)} refused`,
      "key [redacted] refused",
    ],
    [
      "in two halves, far apart",
      `first ${KEY.slice(0, 12)}, and then, much later: ${KEY.slice(12)}`,
      "first [redacted], and then, much later: [redacted]",
    ],
    ["with zero-width characters", `key ${[...KEY].join("\u200b")} refused`, "key [redacted] refused"],
    [
      "with a soft hyphen and a BOM",
      `key ${KEY.slice(0, 10)}\u00ad\ufeff${KEY.slice(10)} refused`,
      "key [redacted] refused",
    ],
    ["hex-encoded", `key hex ${Buffer.from(KEY).toString("hex")} refused`, "key hex [redacted] refused"],
    ["hex, upper-cased", `key hex ${Buffer.from(KEY).toString("hex").toUpperCase()}`, "key hex [redacted]"],
    ["base64", `basic ${Buffer.from(KEY).toString("base64")}`, "basic [redacted]"],
    // The user name's bytes shift the key's base64 by a byte or two; only its start may survive.
    ["base64 after a prefix", `basic ${Buffer.from(`user:${KEY}`).toString("base64")}`, "basic dXNlcjpz[redacted]="],
    ["in full-width letters", `key ${fullWidth(KEY)}`, "key [redacted]"],
    ["a header value", `organization ${HEADER.toUpperCase()} is not allowed`, "organization [redacted] is not allowed"],
  ];
  for (const [name, text, expected] of cases) {
    test(`redacts a secret echoed ${name}`, () => {
      assert.equal(scrub(text), expected);
    });
  }

  test("leaves ordinary text alone and keeps the words around a redacted key", () => {
    assert.equal(scrub("model 'gpt-4o' does not exist"), "model 'gpt-4o' does not exist");
    assert.equal(scrub(`bad key ${KEY} here`), "bad key [redacted] here");
  });

  test("removes control and invisible characters and bounds the length", () => {
    assert.equal(scrub("a\u0000b\nc\u200bd\u2066e"), "a b cde");
    const long = scrub("x".repeat(1000));
    assert.equal(long, `${"x".repeat(200)}...`);
  });

  test("short secrets are redacted whole; secrets under 4 characters are not secrets worth redacting", () => {
    const s = secretScrubber(["Ab-12", "xy"], { maxLength: 500 });
    assert.equal(s("token AB12 and ab-12 and xy"), "token [redacted] and [redacted] and xy");
  });
});
