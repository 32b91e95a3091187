/**
 * `program`: tiny program synthesis. The model writes a function `f` whose body is one line, in
 * Python or JavaScript; the row's `tests` (`{assert}`, read by verifiers/code) check it on four
 * inputs, the first of which the problem shows.
 *
 * Problem: `Write a Python function f(xs) that returns the sum of xs. Example: f([4, 1]) == 5.`
 * Solution: a fenced block that passes the tests, e.g. "```python\ndef f(xs):\n    return sum(xs)\n```";
 * answer: the body alone (`return sum(xs)`). JavaScript rows ask for the same functions:
 * "```javascript\nfunction f(xs) {\n  return xs.reduce((a, b) => a + b, 0);\n}\n```".
 *
 * Levels: 1 integer arithmetic, 2 strings, 3 one list operation, 4 a filter or a sort, 5 two ideas
 * combined (letter counts, sort-and-append, digit sums, quadratics, reverse-and-shift).
 * The canonical form is the function asked for (signature and description, not the language or
 * the example), so a function is train or test in both languages, and a test function is never
 * seen in train with other examples; a family without parameters (`the sum of xs`) is therefore
 * wholly train or wholly test.
 */
import type { Rng } from "../rng.ts";
import { between, pick, type Language, type Problem, type TaskOptions } from "./task.ts";

type Value = number | string | number[];

/** One function to synthesize: its words, its reference bodies, and an oracle for its outputs. */
interface Spec {
  arg: "x" | "s" | "xs";
  says: string;
  python: string;
  javascript: string;
  run: (input: never) => Value;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

type Family = (rng: Rng) => Spec;

const int = (says: string, python: string, javascript: string, run: (x: number) => Value): Spec =>
  ({ arg: "x", says, python, javascript, run });
const str = (says: string, python: string, javascript: string, run: (s: string) => Value): Spec =>
  ({ arg: "s", says, python, javascript, run });
const list = (says: string, python: string, javascript: string, run: (xs: number[]) => Value): Spec =>
  ({ arg: "xs", says, python, javascript, run });

const FAMILIES: Record<number, Family[]> = {
  1: [
    (r) => { const a = between(r, 2, 9), b = between(r, 0, 9);
      return int(`${a}*x+${b}`, `${a}*x+${b}`, `${a}*x+${b}`, (x) => a * x + b); },
    (r) => { const k = between(r, 2, 9);
      return int(`x modulo ${k}`, `x%${k}`, `x%${k}`, (x) => x % k); },
    (r) => { const k = between(r, 1, 9);
      return int(`x*x-${k}`, `x*x-${k}`, `x*x-${k}`, (x) => x * x - k); },
  ],
  2: [
    (r) => { const k = between(r, 2, 5);
      return str(`s repeated ${k} times`, `s*${k}`, `s.repeat(${k})`, (s) => s.repeat(k)); },
    (r) => { const k = between(r, 1, 5);
      return str(`the first ${k} characters of s`, `s[:${k}]`, `s.slice(0, ${k})`, (s) => s.slice(0, k)); },
    (r) => { const k = between(r, 1, 5);
      return str(`the last ${k} characters of s`, `s[-${k}:]`, `s.slice(-${k})`, (s) => s.slice(-k)); },
    (r) => { const k = between(r, 2, 9);
      return str(`the length of s times ${k}`, `len(s)*${k}`, `s.length*${k}`, (s) => s.length * k); },
    (r) => { const c = pick(r, [...LETTERS]);
      return str(`s followed by "${c}"`, `s+"${c}"`, `s+"${c}"`, (s) => s + c); },
    () => str("s reversed", "s[::-1]", `s.split("").reverse().join("")`, (s) => [...s].reverse().join("")),
  ],
  3: [
    (r) => { const k = between(r, 2, 9);
      return list(`xs with each element times ${k}`, `[x*${k} for x in xs]`, `xs.map((x) => x*${k})`, (xs) => xs.map((x) => x * k)); },
    (r) => { const k = between(r, 1, 9);
      return list(`xs with ${k} added to each element`, `[x+${k} for x in xs]`, `xs.map((x) => x+${k})`, (xs) => xs.map((x) => x + k)); },
    (r) => { const k = between(r, 0, 9);
      return list(`how many elements of xs exceed ${k}`, `len([x for x in xs if x>${k}])`, `xs.filter((x) => x>${k}).length`,
        (xs) => xs.filter((x) => x > k).length); },
    () => list("the sum of xs", "sum(xs)", "xs.reduce((a, b) => a + b, 0)", sum),
    () => list("the largest element of xs", "max(xs)", "Math.max(...xs)", (xs) => Math.max(...xs)),
    () => list("the smallest element of xs", "min(xs)", "Math.min(...xs)", (xs) => Math.min(...xs)),
  ],
  4: [
    (r) => { const k = between(r, 0, 9);
      return list(`the elements of xs greater than ${k}`, `[x for x in xs if x>${k}]`, `xs.filter((x) => x>${k})`,
        (xs) => xs.filter((x) => x > k)); },
    (r) => { const k = between(r, 0, 9);
      return list(`the sum of the elements of xs greater than ${k}`, `sum(x for x in xs if x>${k})`,
        `xs.filter((x) => x>${k}).reduce((a, b) => a + b, 0)`, (xs) => sum(xs.filter((x) => x > k))); },
    (r) => { const k = between(r, 2, 9);
      return list(`the sum of xs times ${k}`, `sum(xs)*${k}`, `xs.reduce((a, b) => a + b, 0)*${k}`, (xs) => sum(xs) * k); },
    () => list("the even elements of xs", "[x for x in xs if x%2==0]", "xs.filter((x) => x%2===0)", (xs) => xs.filter((x) => x % 2 === 0)),
    () => list("the sum of the squares of xs", "sum(x*x for x in xs)", "xs.reduce((a, x) => a + x*x, 0)", (xs) => sum(xs.map((x) => x * x))),
    () => list("xs sorted in ascending order", "sorted(xs)", "[...xs].sort((a, b) => a - b)", (xs) => [...xs].sort((a, b) => a - b)),
  ],
  5: [
    (r) => { const [a, b, c] = [between(r, 1, 5), between(r, 1, 9), between(r, 0, 9)];
      return int(`${a}*x*x+${b}*x+${c}`, `${a}*x*x+${b}*x+${c}`, `${a}*x*x+${b}*x+${c}`, (x) => a * x * x + b * x + c); },
    (r) => { const k = between(r, 1, 9);
      return list(`xs reversed with ${k} added to each element`, `[x+${k} for x in xs[::-1]]`,
        `[...xs].reverse().map((x) => x+${k})`, (xs) => [...xs].reverse().map((x) => x + k)); },
    (r) => { const set = r.shuffle([...LETTERS]).slice(0, between(r, 2, 5)).sort().join("");
      return str(`the number of letters of s in "${set}"`, `len([c for c in s if c in "${set}"])`,
        `[...s].filter((c) => "${set}".includes(c)).length`, (s) => [...s].filter((c) => set.includes(c)).length); },
    (r) => { const c = pick(r, [...LETTERS]);
      return str(`the letters of s sorted, then "${c}"`, `"".join(sorted(s))+"${c}"`, `[...s].sort().join("")+"${c}"`,
        (s) => [...s].sort().join("") + c); },
    () => int("the sum of the digits of x", "sum(int(c) for c in str(x))", "[...String(x)].reduce((a, c) => a + Number(c), 0)",
      (x) => sum([...String(x)].map(Number))),
  ],
};

/** A test input for the argument kind; non-negative, so % and sorting agree across languages. */
function drawInput(rng: Rng, arg: Spec["arg"]): Value {
  if (arg === "x") return between(rng, 0, 99);
  if (arg === "s") return Array.from({ length: between(rng, 1, 6) }, () => pick(rng, [...LETTERS])).join("");
  return Array.from({ length: between(rng, 1, 5) }, () => between(rng, 0, 20));
}

/** The same literal in Python and JavaScript: ints, double-quoted lowercase strings, int lists. */
function literal(v: Value): string {
  return Array.isArray(v) ? `[${v.join(", ")}]` : typeof v === "string" ? JSON.stringify(v) : String(v);
}

function testsFor(language: Language, cases: [Value, Value][]): string {
  if (language === "python") return cases.map(([i, o]) => `assert f(${literal(i)}) == ${literal(o)}`).join("\n");
  const lines = cases.map(([i, o]) => `assert.deepStrictEqual(f(${literal(i)}), ${literal(o)});`);
  return [`const assert = require("assert");`, ...lines].join("\n");
}

function reference(language: Language, spec: Spec): string {
  return language === "python"
    ? `def f(${spec.arg}):\n    return ${spec.python}`
    : `function f(${spec.arg}) {\n  return ${spec.javascript};\n}`;
}

/** One program problem of the given level (1–5) in `options.language`, else a drawn language. */
export function generateProgram(rng: Rng, level: number, options: TaskOptions): Problem {
  const families = FAMILIES[level];
  if (!families) throw new Error(`bug: program level ${level} is not 1-5`);
  const spec = pick(rng, families)(rng);
  const language = options.language ?? pick(rng, ["python", "javascript"] as const);
  const cases = Array.from({ length: 4 }, (): [Value, Value] => {
    const input = drawInput(rng, spec.arg);
    return [input, spec.run(input as never)];
  });
  const [example, result] = cases[0];
  const name = language === "python" ? "Python" : "JavaScript";
  const body = language === "python" ? spec.python : spec.javascript;
  return {
    canonical: `program:f(${spec.arg}) returns ${spec.says}`,
    problem: `Write a ${name} function f(${spec.arg}) that returns ${spec.says}. Example: f(${literal(example)}) == ${literal(result)}.`,
    solution: "```" + language + "\n" + reference(language, spec) + "\n```",
    answer: `return ${body}`,
    level,
    fields: { language, tests: { assert: testsFor(language, cases) } },
  };
}
