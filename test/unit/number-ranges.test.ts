/**
 * Number ranges as GBNF (server/engine/number-ranges.ts), checked exhaustively against the
 * numbers themselves: each expression is read as a regular expression (it uses only literals,
 * character classes, groups, `|`, `?` and `{m,n}`) and must match exactly the texts inside the
 * range. The real grammar engine runs them in test/integration/json-schema-numbers.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { rangeGbnf, scaledBound, type Bound, type NumberKind } from "../../server/engine/number-ranges.js";

function regexOf(gbnf: string): RegExp {
  const source = gbnf
    .replace(/"([^"]*)"/g, (_, text: string) => text.replace(/[.-]/g, "\\$&"))
    .replace(/\(/g, "(?:")
    .replace(/ /g, "");
  return new RegExp(`^(?:${source})$`);
}

function inRange(x: number, lower?: Bound, upper?: Bound): boolean {
  if (lower && (lower.exclusive ? x <= lower.value : x < lower.value)) return false;
  if (upper && (upper.exclusive ? x >= upper.value : x > upper.value)) return false;
  return true;
}

function check(kind: NumberKind, lower: Bound | undefined, upper: Bound | undefined, texts: string[]): void {
  const gbnf = rangeGbnf(kind, lower, upper);
  assert.ok(gbnf, `a range for ${JSON.stringify({ kind, lower, upper })}`);
  const re = regexOf(gbnf);
  for (const text of texts) {
    const x = Number(text);
    // At most 16 digits either side of the point (number-ranges.ts, INTEGER_DIGITS, FRACTION_DIGITS).
    const valid = /^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,16})?$/.test(text) && !(x === 0 && text.startsWith("-"));
    const wanted = valid && (kind === "number" || !text.includes(".")) && inRange(x, lower, upper);
    assert.equal(re.test(text), wanted, `${text} in ${JSON.stringify({ kind, lower, upper })}: ${gbnf}`);
  }
}

const inclusive = (value: number): Bound => ({ value, exclusive: false });
const exclusive = (value: number): Bound => ({ value, exclusive: true });

function integerTexts(from: number, to: number): string[] {
  const out = ["-0", "00", "01", "-01", "1.0", "1e2"];
  for (let i = from; i <= to; i++) out.push(String(i));
  return out;
}

describe("integer ranges", () => {
  test("every integer from -1200 to 1200 against bounds of every shape", () => {
    const texts = integerTexts(-1200, 1200);
    const values = [-1000, -999, -101, -100, -99, -10, -9, -1, 0, 1, 9, 10, 11, 99, 100, 101, 199, 999, 1000];
    for (const lo of values) {
      for (const hi of values) {
        if (lo > hi) continue;
        check("integer", inclusive(lo), inclusive(hi), texts);
      }
      check("integer", inclusive(lo), undefined, texts);
      check("integer", undefined, inclusive(lo), texts);
      check("integer", exclusive(lo), exclusive(lo + 7), texts);
    }
  });

  test("fractional bounds on integers round inwards", () => {
    const texts = integerTexts(-20, 20);
    check("integer", inclusive(-2.5), inclusive(7.5), texts);
    check("integer", exclusive(-2.5), exclusive(7.5), texts);
    check("integer", exclusive(0.1), undefined, texts);
  });

  test("zod's safe-integer bounds fit in 16 digits; wider bounds stop at node-llama-cpp's 16", () => {
    const zod = regexOf(rangeGbnf("integer", inclusive(-9007199254740991), inclusive(9007199254740991))!);
    for (const ok of ["0", "-1", "42", "9007199254740991", "-9007199254740991", "8999999999999999"])
      assert.ok(zod.test(ok), ok);
    for (const bad of ["9007199254740992", "-9007199254740992", "10000000000000000", "-0"])
      assert.ok(!zod.test(bad), bad);
    const open = regexOf(rangeGbnf("integer", inclusive(0), undefined)!);
    assert.ok(open.test("9999999999999999"));
    assert.ok(!open.test("10000000000000000"));
  });

  test("an empty range has no grammar", () => {
    assert.equal(rangeGbnf("integer", inclusive(5), inclusive(4)), null);
    assert.equal(rangeGbnf("integer", exclusive(1), exclusive(2)), null);
    assert.equal(rangeGbnf("integer", inclusive(1.2), inclusive(1.8)), null);
  });
});

describe("number ranges", () => {
  const texts: string[] = ["-0", "-0.0", "00.5", "1.", ".5"];
  for (let i = -400; i <= 400; i++) {
    const x = i / 100;
    texts.push(String(x), x.toFixed(3));
    if (Number.isInteger(x)) texts.push(`${x}.0`);
  }
  for (let i = -1200; i <= 1200; i += 7) texts.push(String(i / 10_000));
  texts.push("0.0000000000000001", "0.00000000000000001", "-0.0000000000000001");

  test("decimals from -4 to 4 against integer and fractional bounds", () => {
    const values = [-3.5, -2.25, -1, -0.5, -0.01, -0.0035, 0, 0.0007, 0.01, 0.1, 0.5, 1, 1.5, 2.25, 3];
    for (const lo of values) {
      for (const hi of values) {
        if (lo > hi) continue;
        check("number", inclusive(lo), inclusive(hi), texts);
        if (lo < hi) check("number", exclusive(lo), exclusive(hi), texts);
      }
      check("number", inclusive(lo), undefined, texts);
      check("number", undefined, exclusive(lo), texts);
    }
  });

  test("an exclusive bound moves by the smallest step a number may take", () => {
    const positive = regexOf(rangeGbnf("number", exclusive(0), undefined)!);
    assert.ok(positive.test("0.0000000000000001"));
    assert.ok(!positive.test("0.0000000000000000"));
    assert.ok(!positive.test("0"));
  });
});

test("bounds are read as the decimal the client wrote", () => {
  assert.deepEqual(scaledBound(0.1, 16, "ceil"), { value: 1000000000000000n, exact: true });
  assert.deepEqual(scaledBound(1e-20, 16, "ceil"), { value: 1n, exact: false });
  assert.deepEqual(scaledBound(1e-20, 16, "floor"), { value: 0n, exact: false });
  assert.deepEqual(scaledBound(-2.5, 0, "ceil"), { value: -2n, exact: false });
  assert.deepEqual(scaledBound(-2.5, 0, "floor"), { value: -3n, exact: false });
  assert.deepEqual(scaledBound(1e21, 0, "floor"), { value: 10n ** 21n, exact: true });
});
