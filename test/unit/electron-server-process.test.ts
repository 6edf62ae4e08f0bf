import { describe, test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { utilityProcessEnd } from "../../electron/child-host.js";
import { backoffDelay, parseReadyLine } from "../../electron/server-process.js";

describe("supervisor helpers", () => {
  test("the base URL comes from the server's ready line", () => {
    assert.equal(
      parseReadyLine("Hearth is ready at http://127.0.0.1:41234 (OpenAI API: http://127.0.0.1:41234/v1)"),
      "http://127.0.0.1:41234",
    );
    assert.equal(parseReadyLine("http://[::1]:8080/"), "http://[::1]:8080");
    assert.equal(parseReadyLine('{"level":30,"msg":"listening"}'), null);
    assert.equal(parseReadyLine(""), null);
  });

  test("restart delays double per recent crash and are capped", () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10].map((n) => backoffDelay(n, 500, 5_000)),
      [500, 1_000, 2_000, 4_000, 5_000],
    );
  });
});

describe("a helper utility process's end (child-host.ts)", () => {
  const signo = (s: NodeJS.Signals) => os.constants.signals[s];

  test("a crash or a kill reported as waitpid's raw status is a signal, with or without a core dump", () => {
    assert.deepEqual(utilityProcessEnd(signo("SIGABRT"), "linux"), { code: null, signal: "SIGABRT" });
    assert.deepEqual(utilityProcessEnd(signo("SIGABRT") | 0x80, "linux"), { code: null, signal: "SIGABRT" });
    assert.deepEqual(utilityProcessEnd(signo("SIGSEGV") | 0x80, "darwin"), { code: null, signal: "SIGSEGV" });
    assert.deepEqual(utilityProcessEnd(signo("SIGKILL"), "linux"), { code: null, signal: "SIGKILL" });
  });

  test("the programs' own exits stay exit codes; a raw normal exit is decoded; Windows codes are codes", () => {
    assert.deepEqual(utilityProcessEnd(0, "linux"), { code: 0, signal: null });
    assert.deepEqual(utilityProcessEnd(1, "linux"), { code: 1, signal: null });
    assert.deepEqual(utilityProcessEnd(3 << 8, "linux"), { code: 3, signal: null });
    assert.deepEqual(utilityProcessEnd(signo("SIGSEGV"), "win32"), { code: signo("SIGSEGV"), signal: null });
    assert.deepEqual(utilityProcessEnd(0xc0000005, "win32"), { code: 0xc0000005, signal: null });
  });
});
