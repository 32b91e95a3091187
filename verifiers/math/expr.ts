/**
 * The expression tree the parser builds and the evaluators walk, plus its canonical key:
 * two expressions with the same key are the same tree up to the order of sums and products
 * (policy §3 "structure first"), so they are equal without evaluating anything.
 */
import { q, type Q } from "./rational.ts";

export type Expr =
  | { k: "num"; v: Q; dec: boolean } // a literal; dec: written as a decimal
  | { k: "sym"; name: string } // a variable, or the constants pi, e, i, infty
  | { k: "add"; args: Expr[] }
  | { k: "mul"; args: Expr[] }
  | { k: "neg"; a: Expr }
  | { k: "div"; a: Expr; b: Expr }
  | { k: "pow"; a: Expr; b: Expr }
  | { k: "fn"; name: string; args: Expr[] } // sqrt, root, sin…, log, fact, binom, abs
  | { k: "pm"; a: Expr | null; b: Expr }; // a ± b: the two values a + b and a − b

export const num = (n: bigint, d = 1n, dec = false): Expr => ({ k: "num", v: q(n, d), dec });
export const sym = (name: string): Expr => ({ k: "sym", name });
export const neg = (a: Expr): Expr => ({ k: "neg", a });
export const fn = (name: string, ...args: Expr[]): Expr => ({ k: "fn", name, args });

function flat(kind: "add" | "mul", args: Expr[]): Expr[] {
  return args.flatMap((a) => (a.k === kind ? a.args : [a]));
}
export const add = (...args: Expr[]): Expr => ({ k: "add", args: flat("add", args) });
export const mul = (...args: Expr[]): Expr => ({ k: "mul", args: flat("mul", args) });

/** Canonical string of a tree: commutative arguments sorted, literals by value. */
export function canonKey(e: Expr): string {
  switch (e.k) {
    case "num":
      return e.v.d === 1n ? `${e.v.n}` : `${e.v.n}/${e.v.d}`;
    case "sym":
      return e.name;
    case "add":
    case "mul":
      return `${e.k}(${e.args.map(canonKey).sort().join(",")})`;
    case "neg":
      return `-(${canonKey(e.a)})`;
    case "div":
      return `div(${canonKey(e.a)},${canonKey(e.b)})`;
    case "pow":
      return `pow(${canonKey(e.a)},${canonKey(e.b)})`;
    case "fn":
      return `${e.name}(${e.args.map(canonKey).join(",")})`;
    case "pm":
      return `pm(${e.a ? canonKey(e.a) : ""},${canonKey(e.b)})`;
  }
}

/** Visit every node once (iterative: trees are bounded, but recursion depth need not be). */
export function someNode(e: Expr, test: (node: Expr) => boolean): boolean {
  const stack: Expr[] = [e];
  while (stack.length) {
    const n = stack.pop()!;
    if (test(n)) return true;
    if (n.k === "add" || n.k === "mul" || n.k === "fn") stack.push(...n.args);
    else if (n.k === "neg") stack.push(n.a);
    else if (n.k === "div" || n.k === "pow") stack.push(n.a, n.b);
    else if (n.k === "pm") stack.push(...(n.a ? [n.a, n.b] : [n.b]));
  }
  return false;
}

/** Names of the variables in a tree (not the constants pi, e, i, infty). */
export function freeVars(e: Expr, into = new Set<string>()): Set<string> {
  someNode(e, (n) => {
    if (n.k === "sym" && !CONSTANTS.has(n.name)) into.add(n.name);
    return false;
  });
  return into;
}
const CONSTANTS = new Set(["pi", "e", "i", "infty"]);

export const hasDecimal = (e: Expr): boolean => someNode(e, (n) => n.k === "num" && n.dec);
export const hasPm = (e: Expr): boolean => someNode(e, (n) => n.k === "pm");
