// The code verifier on ordinary programs: extraction, stdin/stdout and assert tests, partial credit.
// Oracles are hand-worked: each expected reward is the share of cases the program gets right by construction.
import { describe, expect, test } from "vitest";
import { extractCode, makeCodeVerifier } from "../../verifiers/code/index.ts";
import { sameOutput } from "../../verifiers/code/harness.ts";
import { SlotPool } from "../../verifiers/code/pool.ts";
import type { Row } from "../../datasets/row.ts";

const ctx = { timeoutMs: 60_000 };
const py = (code: string) => "Here is my solution:\n```python\n" + code + "\n```\n";
const js = (code: string) => "Solution:\n```javascript\n" + code + "\n```\n";
// programs here all finish: a roomy wall keeps a slow start on a loaded host from reading as a timeout
const verifier = makeCodeVerifier({ limits: { wallMs: 20_000 } });
const verify = (completion: string, row: Row) => verifier.verify(completion, row, ctx);

describe("extractCode", () => {
  test("takes the last python block and accepts the py tag", () => {
    const text = "```py\nprint(1)\n```\nthen\n```python\nprint(2)\n```\n```js\nconsole.log(3)\n```";
    expect(extractCode(text, "python")).toEqual({ language: "python", code: "print(2)\n" });
  });
  test("accepts js and without a language takes the last known block", () => {
    expect(extractCode("```python\nx=1\n```\n```js\nconsole.log(1)\n```")).toEqual({ language: "javascript", code: "console.log(1)\n" });
  });
  test("ignores untagged fences, other languages and unclosed fences", () => {
    expect(extractCode("```\nprint(1)\n```\n```bash\nls\n```\n```python\nprint(2)")).toBeNull();
  });
  test("a row asking for python is not answered by a javascript block", () => {
    expect(extractCode("```js\nconsole.log(1)\n```", "python")).toBeNull();
  });
});

test("outputs compare after trimming trailing whitespace per line", () => {
  expect(sameOutput("1 2  \n3\t\n\n", "1 2\n3")).toBe(true);
  expect(sameOutput("1  2\n3", "1 2\n3")).toBe(false);
  expect(sameOutput(" 1\n", "1\n")).toBe(false);
});

describe("stdin/stdout tests", () => {
  const doubling: Row = { language: "python", tests: { inputs: ["2\n", "3\n", "10\n", "-4\n"], outputs: ["4\n", "6", "20  \n", "-8\n"] } };

  test("a correct python program passes every case", async () => {
    const r = await verify(py("print(int(input()) * 2)"), doubling);
    expect(r).toMatchObject({ reward: 1, verdict: "pass", passed: 4, total: 4 });
  });

  test("a python program right on 3 of 4 cases gets 0.75 and wrong_answer", async () => {
    // wrong only for negative numbers
    const r = await verify(py("n = int(input())\nprint(abs(n) * 2)"), doubling);
    expect(r).toMatchObject({ reward: 0.75, verdict: "wrong_answer", passed: 3 });
  });

  test("a correct javascript program passes every case", async () => {
    const code = "const n = Number(require('fs').readFileSync(0, 'utf8'));\nconsole.log(String(n * 2));";
    const r = await verify(js(code), { ...doubling, language: "javascript" });
    expect(r).toMatchObject({ reward: 1, verdict: "pass" });
  });

  test("a javascript program right on 2 of 4 cases gets 0.5", async () => {
    // right for 2 and 3 only: it doubles numbers in 1..4 and prints 0 for the rest
    const code = "const n = Number(require('fs').readFileSync(0, 'utf8'));\nconsole.log(n > 0 && n < 5 ? n * 2 : 0);";
    const r = await verify(js(code), { ...doubling, language: "javascript" });
    expect(r).toMatchObject({ reward: 0.5, verdict: "wrong_answer", passed: 2, total: 4 });
  });

  test("programs may read their input through /dev/stdin", async () => {
    const jsCode = "const n = Number(require('fs').readFileSync('/dev/stdin', 'utf8'));\nconsole.log(n * 2);";
    const pyCode = "n = int(open('/dev/stdin').read())\nprint(n * 2)";
    expect(await verify(js(jsCode), { ...doubling, language: "javascript" })).toMatchObject({ reward: 1 });
    expect(await verify(py(pyCode), doubling)).toMatchObject({ reward: 1 });
  });

  test("a program that crashes gets runtime_error and its traceback", async () => {
    const r = await verify(py("raise ValueError('boom')"), doubling);
    expect(r).toMatchObject({ reward: 0, verdict: "runtime_error" });
    expect(r.detail).toContain("ValueError: boom");
  });

  test("a syntax error is a runtime_error", async () => {
    const r = await verify(js("function (;"), { ...doubling, language: "javascript" });
    expect(r).toMatchObject({ reward: 0, verdict: "runtime_error" });
  });

  test("a row in an unsupported language is a dataset error", async () => {
    await expect(verify("```cpp\nint main() {}\n```", { id: "r8", language: "cpp", tests: { inputs: ["1"], outputs: ["1"] } }))
      .rejects.toThrow('code verifier: row r8: language "cpp" is not supported; use python or javascript');
  });

  test("a row with mismatched inputs and outputs is a dataset error", async () => {
    await expect(verify(py("print(1)"), { id: "r7", language: "python", tests: { inputs: ["1"], outputs: [] } }))
      .rejects.toThrow("code verifier: row r7: tests: 1 inputs but 0 outputs; need the same non-zero count");
  });
});

describe("assert tests", () => {
  const pyRow: Row = { language: "python", tests: { assert: "assert add(2, 3) == 5\nassert add(-1, 1) == 0" } };
  const jsRow: Row = {
    language: "javascript",
    tests: { assert: "const assert = require('assert');\nassert.strictEqual(add(2, 3), 5);\nassert.strictEqual(add(-1, 1), 0);" },
  };

  test("a correct python function passes with reward 1", async () => {
    expect(await verify(py("def add(a, b):\n    return a + b"), pyRow)).toMatchObject({ reward: 1, verdict: "pass" });
  });

  test("a wrong python function fails with reward 0", async () => {
    expect(await verify(py("def add(a, b):\n    return a * b"), pyRow)).toMatchObject({ reward: 0, verdict: "runtime_error" });
  });

  test("a correct javascript function passes with reward 1", async () => {
    expect(await verify(js("function add(a, b) { return a + b; }"), jsRow)).toMatchObject({ reward: 1, verdict: "pass" });
  });

  test("a wrong javascript function fails with reward 0", async () => {
    expect(await verify(js("function add(a, b) { return a - b; }"), jsRow)).toMatchObject({ reward: 0, verdict: "runtime_error" });
  });

  test("the program's own output is kept and the driver's token is not shown", async () => {
    const r = await verify(py("print('hello')\ndef add(a, b):\n    return a + b"), pyRow);
    expect(r).toMatchObject({ reward: 1, stdout: "hello\n" });
  });
});

test("a completion without a fenced program gets no_code", async () => {
  const r = await verify("The answer is to add the numbers.", { language: "python", tests: { assert: "assert True" } });
  expect(r).toEqual({ reward: 0, reason: "no_code", verdict: "no_code" });
});

test("unknown or invalid options are refused with their path", () => {
  expect(() => makeCodeVerifier({ limits: { wallMs: -1 } })).toThrow("code verifier options: limits.wallMs:");
  expect(() => makeCodeVerifier({ limit: {} } as never)).toThrow('code verifier options: : Unrecognized key: "limit"');
});

test("the pool runs at most `size` jobs at once, each on a slot no other running job holds", async () => {
  const pool = new SlotPool(3);
  let running = 0;
  let peak = 0;
  const held = new Set<number>();
  const jobs = Array.from({ length: 12 }, (_, i) => pool.run(async (slot) => {
    expect(held.has(slot)).toBe(false);
    held.add(slot);
    peak = Math.max(peak, ++running);
    await new Promise((r) => setTimeout(r, 5 + (i % 3) * 5));
    running--;
    held.delete(slot);
    return slot;
  }));
  const slots = await Promise.all(jobs);
  expect(peak).toBe(3);
  expect(new Set(slots).size).toBe(3);
});
