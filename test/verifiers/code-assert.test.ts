// Assert rows with the tests and the program in two processes: which results cross (plain data,
// exact types) and that the tests then see what one interpreter would have shown them. Each row
// has a right program (reward 1) and, where the semantics are the point, a near miss (reward 0).
import { describe, expect, test } from "vitest";
import { makeCodeVerifier } from "../../verifiers/code/index.ts";
import type { Row } from "../../datasets/row.ts";

const verifier = makeCodeVerifier({ limits: { wallMs: 20_000 } });
const ctx = { timeoutMs: 60_000 };
const py = (code: string) => "```python\n" + code + "\n```";
const js = (code: string) => "```javascript\n" + code + "\n```";
const run = (row: Row, code: string) => verifier.verify((row.language === "python" ? py : js)(code), row, ctx);
const pyRow = (assert: string): Row => ({ language: "python", tests: { assert } });
const jsRow = (assert: string): Row => ({ language: "javascript", tests: { assert: `const assert = require("assert");\n${assert}` } });

/** [what, row, right program, near miss or null] */
type Case = [string, Row, string, string | null];

const python: Case[] = [
  ["floats compare exactly, nan and inf survive", pyRow("import math\nassert f(0.1) == 0.30000000000000004\nassert math.isnan(f(float('nan')))\nassert f(1e308) == float('inf')"),
    "def f(x):\n    return x * 3", "def f(x):\n    return round(x * 3, 10)"],
  ["nested containers of every plain type", pyRow("assert f() == {'a': [1, (2, 3)], 'b': None, 'c': {1, 2}, 'd': True, 5: b'x', 'z': 1+2j, 'big': 2**200, 'f': frozenset({'q'})}"),
    "def f():\n    return {'a': [1, (2, 3)], 'b': None, 'c': {2, 1}, 'd': True, 5: b'x', 'z': complex(1, 2), 'big': 2**200, 'f': frozenset('q')}",
    "def f():\n    return {'a': [1, [2, 3]], 'b': None, 'c': {1, 2}, 'd': True, 5: b'x', 'z': 1+2j, 'big': 2**200, 'f': frozenset({'q'})}"],
  ["a tuple is not a list, as in Python", pyRow("assert f([1, 2]) == (1, 2)"), "def f(xs):\n    return tuple(xs)", "def f(xs):\n    return xs"],
  ["4.0 == 4 and True == 1, as in Python; `is None` and `is True` hold", pyRow("assert f(2) == 4\nassert g() == 1\nassert g() is True\nassert h() is None"),
    "def f(x):\n    return float(x * x)\ndef g():\n    return True\ndef h():\n    pass", "def f(x):\n    return x * x\ndef g():\n    return 1\ndef h():\n    pass"],
  ["strings with any characters", pyRow("assert f('a\\n\\u00e9\\U0001F600\\x00') == '\\x00\\U0001F600\\u00e9\\na'"), "def f(s):\n    return s[::-1]", "def f(s):\n    return s"],
  ["an exception the tests expect, raised as a subclass", pyRow("try:\n    f(-1)\nexcept ValueError as e:\n    assert 'negative' in str(e)\nelse:\n    raise AssertionError('no error')"),
    "class Negative(ValueError):\n    pass\ndef f(x):\n    if x < 0:\n        raise Negative('negative input')\n    return x", "def f(x):\n    return x"],
  ["a list the program sorts in place", pyRow("xs = [3, 1, 2]\nassert f(xs) is None\nassert xs == [1, 2, 3]"), "def f(xs):\n    xs.sort()", "def f(xs):\n    sorted(xs)"],
  ["keyword arguments", pyRow("assert f(2, k=3) == 6\nassert f(x=1) == 2"), "def f(x, k=2):\n    return x * k", "def f(x, k=2):\n    return x + k"],
  ["HumanEval's check(candidate) and a helper the tests call", pyRow("def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert poly([1, 2], 2) == 5\n\ncheck(f)"),
    "def poly(xs, x):\n    return sum(c * x ** i for i, c in enumerate(xs))\ndef f(xs):\n    return sum(xs)", null],
  ["a module the program imported, fresh for the tests", pyRow("assert math.isclose(f(2.0), 1.41421356, rel_tol=1e-6)"), "import math\ndef f(x):\n    return math.sqrt(x)", null],
  ["the program's data and state across calls", pyRow("assert LIMIT == (1, 2)\nassert f() == 1\nassert f() == 2"), "LIMIT = (1, 2)\nn = 0\ndef f():\n    global n\n    n += 1\n    return n", null],
  ["recursion through the program's own global", pyRow("assert fib(20) == 6765"), "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)", null],
];

const javascript: Case[] = [
  ["nested arrays and objects, key order free", jsRow("assert.deepStrictEqual(f(), { a: [1, [2, 'x']], b: null, c: { d: true } });"),
    "function f() {\n  return { c: { d: true }, b: null, a: [1, [2, 'x']] };\n}", "function f() {\n  return { a: [1, [2, 'x']], b: undefined, c: { d: true } };\n}"],
  ["-0, NaN, Infinity, undefined and bigints keep their identity", jsRow("assert.deepStrictEqual(f(), [-0, NaN, -Infinity, undefined, 2n ** 70n]);"),
    "function f() {\n  return [-0, NaN, -Infinity, undefined, 2n ** 70n];\n}", "function f() {\n  return [0, NaN, -Infinity, undefined, 2n ** 70n];\n}"],
  ["Maps, Sets and holes", jsRow("assert.deepStrictEqual(f(), [new Map([[1, 'a']]), new Set(['x']), [1, , 3]]);"),
    "function f() {\n  return [new Map([[1, 'a']]), new Set(['x']), [1, , 3]];\n}", "function f() {\n  return [new Map([[1, 'a']]), new Set(['x']), [1, undefined, 3]];\n}"],
  ["a null-prototype object is not {}, as in Node", jsRow("assert.deepStrictEqual(f(), { a: 1 });"), "function f() {\n  return { a: 1 };\n}",
    "function f() {\n  const o = Object.create(null);\n  o.a = 1;\n  return o;\n}"],
  ["strings with any characters", jsRow("assert.strictEqual(f('a\\n\\u00e9\\u{1F600}\\0'), '\\0\\u{1F600}\\u00e9\\na');"),
    "function f(s) {\n  return [...s].reverse().join('');\n}", "function f(s) {\n  return s;\n}"],
  ["an error the tests expect", jsRow("assert.throws(() => f(-1), RangeError);\nassert.throws(() => f(-2), /negative/);"),
    "function f(x) {\n  if (x < 0) throw new RangeError('negative input');\n  return x;\n}", "function f(x) {\n  if (x < 0) throw new TypeError('negative input');\n  return x;\n}"],
  ["an array the program sorts in place", jsRow("const xs = [3, 1, 2];\nf(xs);\nassert.deepStrictEqual(xs, [1, 2, 3]);"),
    "function f(xs) {\n  xs.sort((a, b) => a - b);\n}", "function f(xs) {\n  [...xs].sort((a, b) => a - b);\n}"],
  ["the program's constants, helpers and state across calls", jsRow("assert.deepStrictEqual(LIMITS, [1, 2]);\nassert.strictEqual(next(), 1);\nassert.strictEqual(next(), 2);\nassert.strictEqual(twice(4), 8);"),
    "const LIMITS = [1, 2];\nlet n = 0;\nconst next = () => ++n;\nfunction twice(x) { return 2 * x; }", null],
];

describe.each([["python", python], ["javascript", javascript]])("%s", (_language, cases) => {
  test.each(cases)("%s", async (_what, row, right, miss) => {
    const [good, bad] = await Promise.all([run(row, right), miss === null ? null : run(row, miss)]);
    expect(good, JSON.stringify(good)).toMatchObject({ reward: 1, verdict: "pass" });
    if (bad) expect(bad, JSON.stringify(bad)).toMatchObject({ reward: 0, verdict: "runtime_error" });
  });
});

describe("what cannot cross", () => {
  test("a python generator, class instance or callback fails the run and says why", async () => {
    const gen = await run(pyRow("assert list(f(3)) == [0, 1, 2]"), "def f(n):\n    return (i for i in range(n))");
    const obj = await run(pyRow("assert f().x == 1"), "class P:\n    x = 1\ndef f():\n    return P()");
    const callback = await run(pyRow("assert f(lambda v: v + 1) == 2"), "def f(g):\n    return g(1)");
    expect(gen).toMatchObject({ reward: 0, verdict: "runtime_error" });
    expect(gen.detail).toContain("f() returned generator, not plain data");
    expect(obj.detail).toContain("f() returned P, not plain data");
    expect(callback).toMatchObject({ reward: 0 });
    expect(callback.detail).toContain("f(): an argument of type function cannot be passed to the program");
  });

  test("a javascript class instance or promise fails the run and says why", async () => {
    const cls = await run(jsRow("assert.strictEqual(f().x, 1);"), "class P { constructor() { this.x = 1; } }\nfunction f() { return new P(); }");
    const promise = await run(jsRow("assert.ok(f());"), "async function f() { return 1; }");
    expect(cls).toMatchObject({ reward: 0, verdict: "runtime_error" });
    expect(cls.detail).toContain("f() returned an object of class P, not plain data");
    expect(promise.detail).toContain("f() returned an object of class Promise, not plain data");
  });
});

test("the program's process holds neither the token nor the tests, nor can it read the test process", async () => {
  // scans its own memory for anything shaped like the token (a planted probe shows the scan works),
  // looks for the tests in /sandbox and tries the test process's memory and environment
  const code = [
    "import os, re",
    "probe = ('rlvr' + '-done-' + 'f' * 32).encode()",
    "pattern = re.compile(('rlvr' + '-done-[0-9a-f]{32}').encode())",
    "found = set()",
    "for line in open('/proc/self/maps'):",
    "    lo, hi = (int(v, 16) for v in line.split()[0].split('-'))",
    "    if 'r' not in line.split()[1] or hi - lo > 1 << 28 or '[vvar' in line or '[vsyscall' in line:",
    "        continue",
    "    with open('/proc/self/mem', 'rb', 0) as m:",
    "        try:",
    "            m.seek(lo)",
    "            found.update(pattern.findall(m.read(hi - lo)))",
    "        except OSError:",
    "            pass",
    "tests_seen = any(('SECRET_' + 'EXPECTED') in open(os.path.join('/sandbox', n)).read() for n in os.listdir('/sandbox'))",
    "denied = []",
    "for what in ('mem', 'environ'):",
    "    try:",
    "        open(f'/proc/{os.getppid()}/{what}', 'rb').read(1)",
    "    except OSError:",
    "        denied.append(what)",
    "print(probe in found, len(found - {probe}), tests_seen, denied)",
    "def f():",
    "    return 0",
  ].join("\n");
  const r = await run(pyRow("SECRET_EXPECTED = 1\nassert f() == SECRET_EXPECTED"), code);
  expect(r).toMatchObject({ reward: 0, verdict: "runtime_error", stdout: "True 0 False ['mem', 'environ']\n" });
  expect(r.detail).toContain("AssertionError");
});

test("javascript tests that go on in promises and timers count only once they finish", async () => {
  const row = jsRow("Promise.resolve().then(() => assert.strictEqual(f(2), 4));\nsetTimeout(() => assert.strictEqual(f(3), 6), 10);");
  const [good, late] = await Promise.all([run(row, "function f(x) {\n  return 2 * x;\n}"), run(row, "function f(x) {\n  return x === 2 ? 4 : 0;\n}")]);
  expect(good, JSON.stringify(good)).toMatchObject({ reward: 1, verdict: "pass" });
  expect(late, JSON.stringify(late)).toMatchObject({ reward: 0, verdict: "runtime_error" });
});
