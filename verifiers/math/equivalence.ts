/**
 * Answer-level equivalence (policy §5–§9): equations and prefixes, ordered tuples vs unordered
 * solution lists, intervals and sets of reals, matrices, `\pm`, text and base-subscript answers.
 * Scalars go to compare-expr. Parses are cached per normalized string.
 */
import { compareProportional, compareScalar, type Verdict } from "./compare-expr.ts";
import { add, canonKey, hasPm, neg, someNode, type Expr } from "./expr.ts";
import { MAX_PM, Unparseable } from "./limits.ts";
import { asReals, parseAnswer, type Answer, type Interval } from "./parse-answer.ts";
import { approx } from "./evaluate.ts";

const RANK: Record<Verdict, number> = { equal_structure: 0, equal_exact: 1, equal_numeric: 2, not_equal: 3 };
/** The verdict of a conjunction: not_equal wins, else the weakest kind of equality. */
export const both = (a: Verdict, b: Verdict): Verdict => (RANK[a] >= RANK[b] ? a : b);
const all = (vs: Iterable<Verdict>): Verdict => {
  let out: Verdict = "equal_structure";
  for (const v of vs) if ((out = both(out, v)) === "not_equal") break;
  return out;
};

/** Both readings of every `\pm` (a ± b → a + b, a − b), at most 2^MAX_PM of them. */
function expandPm(e: Expr): Expr[] {
  if (!hasPm(e)) return [e];
  let count = 0;
  someNode(e, (n) => n.k === "pm" && ++count > MAX_PM);
  if (count > MAX_PM) throw new Unparseable("too many ± signs");
  return expandBounded(e);
}

function expandBounded(e: Expr): Expr[] {
  if (!hasPm(e)) return [e];
  switch (e.k) {
    case "pm": {
      const bs = expandBounded(e.b), as = e.a ? expandBounded(e.a) : [null];
      return as.flatMap((a) => bs.flatMap((b) => [a ? add(a, b) : b, a ? add(a, neg(b)) : neg(b)]));
    }
    case "add":
    case "mul":
    case "fn":
      return e.args.reduce<Expr[][]>((acc, arg) => cap(acc.flatMap((pre) => expandBounded(arg).map((x) => [...pre, x]))), [[]])
        .map((args) => ({ ...e, args }));
    case "neg":
      return expandBounded(e.a).map((a) => ({ k: "neg", a }));
    case "div":
    case "pow":
      return expandBounded(e.a).flatMap((a) => expandBounded(e.b).map((b) => ({ ...e, a, b })));
    default:
      return [e];
  }
}
function cap<T>(xs: T[]): T[] {
  if (xs.length > 2 ** MAX_PM) throw new Unparseable("too many ± signs");
  return xs;
}

/** An answer read as the items of a solution list (bare list, set, ± expression, single value). */
function listItems(a: Answer): Answer[] {
  if (a.k === "list") return a.items.flatMap(listItems);
  if (a.k === "expr") return expandPm(a.e).map((e) => ({ k: "expr", e }));
  if (a.k === "eq" && a.sides.length >= 2) return listItems({ k: "expr", e: rightSide(a.sides) });
  return [a];
}

/** Multiset equality by greedy matching (lists are short: MATH answers have a few items). */
function compareUnordered(xs: Answer[], ys: Answer[]): Verdict {
  if (xs.length !== ys.length || xs.length > 64) return "not_equal";
  const used = new Array(ys.length).fill(false);
  let out: Verdict = "equal_structure";
  for (const x of xs) {
    const j = ys.findIndex((y, k) => !used[k] && compareAnswers(x, y) !== "not_equal");
    if (j < 0) return "not_equal";
    used[j] = true;
    out = both(out, compareAnswers(x, ys[j]));
  }
  return out;
}

function compareOrdered(xs: Expr[], ys: Expr[]): Verdict {
  if (xs.length !== ys.length) return "not_equal";
  return all(xs.map((x, i) => compareValue(x, ys[i])));
}

/** Two scalars, or the value sets of two `\pm` expressions. */
function compareValue(x: Expr, y: Expr): Verdict {
  if (!hasPm(x) && !hasPm(y)) return compareScalar(x, y);
  return compareUnordered(listItems({ k: "expr", e: x }), listItems({ k: "expr", e: y }));
}

/** The entries of a vector-like answer in order: tuple, ⟨⟩, one-row or one-column matrix, bare list. */
function vectorEntries(a: Answer): Expr[] | null {
  if (a.k === "tuple") return a.items;
  if (a.k === "matrix" && (a.rows.length === 1 || a.rows.every((r) => r.length === 1))) return a.rows.flat();
  if (a.k !== "list" || a.braces) return null;
  // a bare list of values or of prefixed items (`x = 1, y = 2`) read in order
  const entries = a.items.map((i) => (i.k === "expr" ? i.e : i.k === "eq" ? rightSide(i.sides) : null));
  return entries.every((e) => e !== null) ? (entries as Expr[]) : null;
}

const rightSide = (sides: (Expr | null)[]): Expr => sides[sides.length - 1]!;
const isPmFree = (a: Answer): boolean => a.k !== "expr" || !hasPm(a.e);
const loneVariable = (e: Expr): boolean => e.k === "sym" && !["pi", "e", "i", "infty"].includes(e.name);

/** Compare a parsed answer with a parsed gold (the gold decides which reading applies). */
export function compareAnswers(a: Answer, g: Answer): Verdict {
  if (g.k === "base" || a.k === "base") return compareBase(a, g);
  if (g.k === "eq" && a.k === "eq") return compareEquations(a.sides, g.sides);
  if (g.k === "eq" && g.sides.length === 2 && g.sides[0] && loneVariable(g.sides[0]))
    return compareAnswers(a, { k: "expr", e: rightSide(g.sides) });
  if (a.k === "eq" && a.sides.length >= 2) return compareAnswers({ k: "expr", e: rightSide(a.sides) }, g);
  if (g.k === "list" || a.k === "list" || !isPmFree(a) || !isPmFree(g)) {
    if (g.k === "tuple" || g.k === "matrix") return compareVectors(a, g);
    if (a.k === "tuple" && g.k === "list") return "not_equal"; // a parenthesized answer to a bare list: unspecified
    return compareUnordered(listItems(a), listItems(g));
  }
  if (g.k === "reals" || a.k === "reals") return compareReals(a, g);
  if (g.k === "tuple" && a.k === "tuple" && g.open !== "<" && a.open !== "<") {
    if (a.open !== g.open || a.close !== g.close) return "not_equal";
    return compareOrdered(a.items, g.items);
  }
  if (g.k === "matrix" && a.k === "matrix") return compareMatrices(a.rows, g.rows);
  if (g.k === "tuple" || g.k === "matrix" || a.k === "tuple" || a.k === "matrix") return compareVectors(a, g);
  if (a.k === "expr" && g.k === "expr") return compareScalar(a.e, g.e);
  return "not_equal";
}

function compareVectors(a: Answer, g: Answer): Verdict {
  const [x, y] = [vectorEntries(a), vectorEntries(g)];
  return x && y ? compareOrdered(x, y) : "not_equal";
}

function compareMatrices(a: Expr[][], g: Expr[][]): Verdict {
  if (a.length !== g.length || a.some((r, i) => r.length !== g[i].length)) return "not_equal";
  return all(a.map((r, i) => compareOrdered(r, g[i])));
}

function compareBase(a: Answer, g: Answer): Verdict {
  if (g.k !== "base") return "not_equal"; // a subscripted answer to a plain gold
  if (a.k === "base") return a.base === g.base && a.digits.toUpperCase() === g.digits.toUpperCase() ? "equal_exact" : "not_equal";
  const e = a.k === "expr" ? a.e : null;
  if (e?.k === "num" && !e.dec && e.v.d === 1n) return `${e.v.n}` === g.digits ? "equal_exact" : "not_equal";
  return "not_equal";
}

/** Both equations: L1 − R1 = c·(L2 − R2) for a nonzero constant c (the same solution set). */
function compareEquations(a: (Expr | null)[], g: (Expr | null)[]): Verdict {
  if (!a[0] || !g[0]) return "not_equal";
  return compareProportional(add(a[0], neg(rightSide(a))), add(g[0], neg(rightSide(g))));
}

/** Sets of reals: split at removed points, sort, merge touching pieces, then compare piecewise. */
function compareReals(a: Answer, g: Answer): Verdict {
  let x: Interval[], y: Interval[];
  try {
    [x, y] = [canonicalPieces(asReals(a)), canonicalPieces(asReals(g))];
  } catch {
    return "not_equal"; // a number against a set of reals: never equal (§5)
  }
  if (x.length !== y.length) return "not_equal";
  return all(
    x.flatMap((p, i) => {
      const q = y[i];
      if (p.loClosed !== q.loClosed || p.hiClosed !== q.hiClosed) return ["not_equal" as Verdict];
      return [compareValue(p.lo, q.lo), compareValue(p.hi, q.hi)];
    }),
  );
}

function value(e: Expr): number {
  const key = canonKey(e);
  if (key === "infty") return Infinity;
  if (key === "-(infty)") return -Infinity;
  return approx(e, new Map())[0];
}

function canonicalPieces(r: Extract<Answer, { k: "reals" }>): Interval[] {
  let pieces = r.pieces.slice();
  for (const p of r.minus) {
    const v = value(p);
    pieces = pieces.flatMap((iv) => {
      const [lo, hi] = [value(iv.lo), value(iv.hi)];
      if (v < lo || v > hi) return [iv];
      const halves = [{ ...iv, hi: p, hiClosed: false }, { ...iv, lo: p, loClosed: false }];
      return halves.filter((s) => value(s.lo) < value(s.hi) || (s.loClosed && s.hiClosed));
    });
  }
  pieces.sort((s, t) => value(s.lo) - value(t.lo));
  const merged: Interval[] = [];
  for (const iv of pieces) {
    const last = merged[merged.length - 1];
    const touching = last && value(last.hi) === value(iv.lo) && (last.hiClosed || iv.loClosed);
    if (touching) merged[merged.length - 1] = { ...last, hi: iv.hi, hiClosed: iv.hiClosed };
    else merged.push(iv);
  }
  return merged;
}

const parseCache = new Map<string, Answer | Unparseable>();
/** Empty the parse cache (the benchmark measures cold-cache checks with it). */
export function clearParseCache(): void {
  parseCache.clear();
}
/** parseAnswer with a bounded cache (normalized string → structure or the refusal). */
export function parseCached(s: string): Answer {
  let hit = parseCache.get(s);
  if (hit === undefined) {
    try {
      hit = parseAnswer(s);
    } catch (err) {
      if (!(err instanceof Unparseable)) throw err;
      hit = err;
    }
    if (parseCache.size >= 20_000) parseCache.clear();
    parseCache.set(s, hit);
  }
  if (hit instanceof Unparseable) throw hit;
  return hit;
}
