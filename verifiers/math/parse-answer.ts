/**
 * A normalized answer → its structure (policy §5, §6, §8): expression, equation chain, solution
 * list, bracketed tuple/interval, matrix, set of reals (unions, inequalities, `\mathbb{R}`),
 * text or base-subscript number. Splitting happens at the top level of bracket nesting only.
 */
import { neg, sym, type Expr } from "./expr.ts";
import { Unparseable } from "./limits.ts";
import { parseExpr } from "./parse-expr.ts";
import { tokenize, type Tok } from "./tokenize.ts";

export interface Interval {
  lo: Expr;
  hi: Expr;
  loClosed: boolean;
  hiClosed: boolean;
}
export type Answer =
  | { k: "expr"; e: Expr }
  | { k: "eq"; sides: (Expr | null)[] } // L1 = L2 = … = R; a left side that does not parse is null
  | { k: "list"; items: Answer[]; braces: boolean }
  | { k: "tuple"; open: string; close: string; items: Expr[] } // also intervals; "<" for ⟨⟩
  | { k: "matrix"; rows: Expr[][] }
  | { k: "reals"; pieces: Interval[]; minus: Expr[] }
  | { k: "text"; s: string }
  | { k: "base"; digits: string; base: string };

const OPEN = new Set(["(", "[", "{", "\\{", "langle", "begin"]);
const CLOSE = new Set([")", "]", "}", "\\}", "rangle", "end"]);
const RELATIONS = new Set(["=", "<", ">", "le", "leq", "ge", "geq", "ne", "neq", "leqslant", "geqslant"]);
const INFINITY = sym("infty");

const key = (t: Tok): string => (t.kind === "cmd" && (t.text === "{" || t.text === "}") ? "\\" + t.text : t.text);
const opens = (t: Tok): boolean => (t.kind === "sym" || t.kind === "cmd") && OPEN.has(key(t));
const closes = (t: Tok): boolean => (t.kind === "sym" || t.kind === "cmd") && CLOSE.has(key(t));
const isCmd = (t: Tok | undefined, ...names: string[]): boolean => t?.kind === "cmd" && names.includes(t.text);

/** Split at separators that sit outside every bracket; `keep` retains them as their own parts. */
function splitTop(toks: Tok[], isSep: (t: Tok) => boolean, keep = false): Tok[][] {
  const parts: Tok[][] = [[]];
  let depth = 0;
  for (const t of toks) {
    if (opens(t)) depth++;
    else if (closes(t)) depth--;
    if (depth < 0) throw new Unparseable("unbalanced brackets");
    if (depth === 0 && isSep(t)) {
      if (keep) parts.push([t]);
      parts.push([]);
    } else parts[parts.length - 1].push(t);
  }
  if (depth !== 0) throw new Unparseable("unbalanced brackets");
  return parts;
}

/** Whether toks[0] opens a bracket that closes exactly at the last token. */
function wrapped(toks: Tok[]): boolean {
  if (toks.length < 2 || !opens(toks[0])) return false;
  let depth = 0;
  for (let i = 0; i < toks.length; i++) {
    if (opens(toks[i])) depth++;
    else if (closes(toks[i])) depth--;
    if (depth === 0) return i === toks.length - 1;
  }
  return false;
}

const isComma = (t: Tok): boolean =>
  (t.kind === "sym" && t.text === ",") || (t.kind === "text" && /^\s*(or|and)\s*$/i.test(t.text));

/** Parse a normalized answer string into its structure. */
export function parseAnswer(s: string): Answer {
  const base = /^(\d[0-9A-Z]*)_\{?(\d+)\}?$/.exec(s);
  if (base) return { k: "base", digits: base[1], base: base[2] };
  return parseTokens(tokenize(s));
}

function parseTokens(toks: Tok[]): Answer {
  if (toks.length === 0) throw new Unparseable("empty answer");
  const pieces = splitTop(toks, (t) => isCmd(t, "cup"));
  if (pieces.length > 1) return union(pieces.map((p) => asReals(parseItem(p))));
  const items = splitTop(toks, isComma);
  if (items.length === 1) return parseItem(toks);
  const parsed = items.map(parseItem);
  if (parsed.every((a) => a.k === "reals")) return union(parsed as Extract<Answer, { k: "reals" }>[]);
  return { k: "list", items: parsed, braces: false };
}

function union(sets: Extract<Answer, { k: "reals" }>[]): Answer {
  return { k: "reals", pieces: sets.flatMap((r) => r.pieces), minus: sets.flatMap((r) => r.minus) };
}

function parseItem(toks: Tok[]): Answer {
  if (toks.length === 0) throw new Unparseable("empty item");
  const inAt = toks.findIndex((t) => isCmd(t, "in"));
  if (inAt === 1 && (toks[0].kind === "letter" || toks[0].kind === "cmd")) return parseTokens(toks.slice(2));
  const minus = splitTop(toks, (t) => isCmd(t, "setminus"));
  if (minus.length === 2) return setMinus(parseTokens(minus[0]), parseTokens(minus[1]));
  const rel = splitTop(toks, (t) => (t.kind === "sym" || t.kind === "cmd") && RELATIONS.has(t.text), true);
  if (rel.length > 1) return relation(rel);
  if (toks.length === 1 && isCmd(toks[0], "emptyset", "varnothing")) return { k: "list", items: [], braces: true };
  if (isCmd(toks[0], "mathbb") && toks.length === 1 && toks[0].arg === "R")
    return { k: "reals", pieces: [{ lo: neg(INFINITY), hi: INFINITY, loClosed: false, hiClosed: false }], minus: [] };
  if (wrapped(toks)) return bracketed(toks);
  if (toks.some((t) => isCmd(t, "begin"))) return matrix(toks);
  return { k: "expr", e: parseExpr(toks) };
}

function bracketed(toks: Tok[]): Answer {
  const [open, close] = [key(toks[0]), key(toks[toks.length - 1])];
  if (open === "begin") return matrix(toks);
  const inner = toks.slice(1, -1);
  if (open === "\\{") return { k: "list", items: inner.length ? splitTop(inner, isComma).map(parseItem) : [], braces: true };
  const parts = splitTop(inner, isComma);
  if (open === "langle") return { k: "tuple", open: "<", close: ">", items: parts.map(parseExpr) };
  if (parts.length > 1 && (open === "(" || open === "[")) return { k: "tuple", open, close, items: parts.map(parseExpr) };
  if ((open === "(" || open === "[") && inner.some((t) => isCmd(t, "begin"))) return matrix(inner);
  return { k: "expr", e: parseExpr(toks) };
}

function matrix(toks: Tok[]): Answer {
  const at = toks.findIndex((t) => isCmd(t, "begin"));
  const env = toks[at].arg ?? "";
  const last = toks[toks.length - 1];
  if (!/^[pbB]?matrix$/.test(env) || !isCmd(last, "end") || last.arg !== env)
    throw new Unparseable(`bad matrix environment "${env}"`);
  const scalar = at > 0 ? parseExpr(toks.slice(0, at)) : null;
  const rows = splitTop(toks.slice(at + 1, -1), (t) => isCmd(t, "\\")).filter((r, i, all) => r.length > 0 || i < all.length - 1);
  const cells = rows.map((r) => splitTop(r, (t) => t.kind === "sym" && t.text === "&").map(parseExpr));
  if (cells.length === 0 || cells.some((r) => r.length !== cells[0].length)) throw new Unparseable("ragged matrix");
  return { k: "matrix", rows: scalar ? cells.map((r) => r.map((e) => ({ k: "mul", args: [scalar, e] }) as Expr)) : cells };
}

/** `x \ge 5`, `5 \le x`, `-3 < x \le 2`, `x \ne 3` → a set of reals; `=` chains → equations. */
function relation(parts: Tok[][]): Answer {
  const ops = parts.filter((_, i) => i % 2 === 1).map((p) => p[0].text);
  const terms = parts.filter((_, i) => i % 2 === 0);
  // only the right side of an equation is graded against a plain gold: `\angle Q = 7` gives 7
  if (ops.every((o) => o === "=")) {
    const right = lenient(terms[terms.length - 1]);
    // `\mathbf{v} = \begin{pmatrix}…`, `(x, y) = (1, 2)`, `S = \{1, 2\}`: the structure on the right is the answer
    if (!right) return parseItem(terms[terms.length - 1]);
    return { k: "eq", sides: [...terms.slice(0, -1).map(lenient), right] };
  }
  const sides = terms.map(parseExpr);
  if (ops.includes("=")) throw new Unparseable("mixed equation and inequality");
  const v = sides.findIndex((e) => e.k === "sym" && e.name !== "infty" && e.name !== "pi");
  if (v < 0) throw new Unparseable("an inequality without a lone variable");
  const piece: Interval = { lo: neg(INFINITY), hi: INFINITY, loClosed: false, hiClosed: false };
  const minus: Expr[] = [];
  ops.forEach((op, j) => {
    const [left, right] = [j, j + 1];
    if (left !== v && right !== v) throw new Unparseable("an inequality chain not around its variable");
    const bound = sides[left === v ? right : left];
    if (op === "ne" || op === "neq") return void minus.push(bound);
    const less = op === "<" || op.startsWith("le");
    const strict = op === "<" || op === ">";
    // x < b (variable on the left of "less") is an upper bound
    if (less === (left === v)) Object.assign(piece, { hi: bound, hiClosed: !strict });
    else Object.assign(piece, { lo: bound, loClosed: !strict });
  });
  return { k: "reals", pieces: [piece], minus };
}

function lenient(toks: Tok[]): Expr | null {
  try {
    return parseExpr(toks);
  } catch (err) {
    if (err instanceof Unparseable) return null;
    throw err;
  }
}

function setMinus(a: Answer, b: Answer): Answer {
  const base = asReals(a);
  if (b.k !== "list" || !b.braces) throw new Unparseable("\\setminus needs a set of points on the right");
  return { ...base, minus: [...base.minus, ...b.items.map((i) => (i.k === "expr" ? i.e : fail("a point")))] };
}

function fail(what: string): never {
  throw new Unparseable(`expected ${what}`);
}

/** The set-of-reals reading of an interval, a union or an inequality. */
export function asReals(a: Answer): Extract<Answer, { k: "reals" }> {
  if (a.k === "reals") return a;
  if (a.k !== "tuple" || a.items.length !== 2 || a.open === "<")
    throw new Unparseable("expected an interval or a set of reals");
  const [lo, hi] = a.items;
  return { k: "reals", pieces: [{ lo, hi, loClosed: a.open === "[", hiClosed: a.close === "]" }], minus: [] };
}
