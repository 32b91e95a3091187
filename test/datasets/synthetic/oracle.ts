// Independent recomputation for the synthetic-task tests: a BigInt rational type and readers that
// recompute answers from the problem text alone, sharing no code with datasets/synthetic.

export type Q = [bigint, bigint]; // [numerator, denominator > 0], lowest terms

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? (a < 0n ? -a : a) : gcd(b, a % b));

export function q(n: bigint | number, d: bigint | number = 1): Q {
  let [a, b] = [BigInt(n), BigInt(d)];
  if (b === 0n) throw new Error("division by zero");
  if (b < 0n) [a, b] = [-a, -b];
  const g = gcd(a, b) || 1n;
  return [a / g, b / g];
}

export function apply(x: Q, op: string, y: Q): Q {
  if (op === "+") return q(x[0] * y[1] + y[0] * x[1], x[1] * y[1]);
  if (op === "-") return q(x[0] * y[1] - y[0] * x[1], x[1] * y[1]);
  if (op === "*") return q(x[0] * y[0], x[1] * y[1]);
  if (op === "/") return q(x[0] * y[1], x[1] * y[0]);
  throw new Error(`unknown op ${op}`);
}

/** `7`, `-9/2`, `(-9/2)` → Q. */
export function readQ(text: string): Q {
  const m = /^\(?(-?\d+)(?:\/(\d+))?\)?$/.exec(text);
  if (!m) throw new Error(`not a rational: ${text}`);
  return q(BigInt(m[1]), BigInt(m[2] ?? 1));
}

export const showQ = ([n, d]: Q) => (d === 1n ? String(n) : `${n}/${d}`);

/** The arith story read back: start, operations as [op, operand] pairs, money or items. */
export function readArith(problem: string): { start: Q; ops: [string, Q][]; money: boolean } {
  const m = /^[A-Z][a-z]+ has (\d+) ([a-z]+)\. (?:She|He) (.+)\. How many \2 now\?$/.exec(problem);
  if (!m) throw new Error(`unreadable arith problem: ${problem}`);
  const ops = m[3].split(/, | and /).flatMap((clause): [string, Q][] => {
    const n = (i: number) => q(BigInt(c![i]));
    let c: RegExpExecArray | null;
    if ((c = /^(?:gets|earns) (\d+)$/.exec(clause))) return [["+", n(1)]];
    if ((c = /^(?:loses|spends) (\d+)$/.exec(clause))) return [["-", n(1)]];
    if ((c = /^buys (\d+) packs of (\d+)$/.exec(clause))) return [["+", apply(n(1), "*", n(2))]];
    if ((c = /^pays (\d+) bills of (\d+)$/.exec(clause))) return [["-", apply(n(1), "*", n(2))]];
    if ((c = /^doubles (?:it|them)$/.exec(clause))) return [["*", q(2)]];
    if ((c = /^triples (?:it|them)$/.exec(clause))) return [["*", q(3)]];
    if ((c = /^keeps 1\/(\d+) of (?:it|them)$/.exec(clause))) return [["/", n(1)]];
    throw new Error(`unknown clause ${JSON.stringify(clause)} in ${problem}`);
  });
  return { start: q(BigInt(m[1])), ops, money: m[2] === "dollars" };
}

/** The chain read back: start and [op, operand] pairs. */
export function readChain(problem: string): { start: Q; ops: [string, Q][] } {
  const m = /^Start at (\d+); (.+)\. Result\?$/.exec(problem);
  if (!m) throw new Error(`unreadable chain problem: ${problem.slice(0, 80)}`);
  const words: Record<string, [string, Q]> = { double: ["*", q(2)], triple: ["*", q(3)], halve: ["/", q(2)] };
  const ops = m[2].split("; ").map((w): [string, Q] => {
    const c = /^(add|sub) (\d+)$/.exec(w);
    if (c) return [c[1] === "add" ? "+" : "-", q(BigInt(c[2]))];
    if (!words[w]) throw new Error(`unknown chain op ${w}`);
    return words[w];
  });
  return { start: q(BigInt(m[1])), ops };
}

export const run = (start: Q, ops: [string, Q][]) => ops.reduce((v, [op, y]) => apply(v, op, y), start);

/** Every `a op b=c` equation of a worked solution, checked; returns how many there were. */
export function checkEquations(solution: string): number {
  const parts = solution.split(". ");
  if (!/^\\boxed\{[^}]+\}$/.test(parts.at(-1)!)) throw new Error(`solution does not end in a box: ${solution}`);
  for (const eq of parts.slice(0, -1)) {
    const m = /^(\(-?\d+\/\d+\)|-?\d+)([-+*/])(\d+)=(-?\d+(?:\/\d+)?)$/.exec(eq);
    if (!m) throw new Error(`unreadable equation ${JSON.stringify(eq)} in ${solution}`);
    const got = apply(readQ(m[1]), m[2], readQ(m[3]));
    if (showQ(got) !== showQ(readQ(m[4]))) throw new Error(`wrong equation ${eq}: ${showQ(got)}`);
  }
  return parts.length - 1;
}

/** A side of a linear equation in x and y evaluated at (x, y): `-3x+2y-5`. */
export function evalLinear(side: string, x: Q, y: Q = q(0)): Q {
  let total = q(0);
  const terms = side.match(/[+-]?[^+-]+/g) ?? [];
  for (const t of terms) {
    const m = /^([+-]?)(\d*)([xy]?)$/.exec(t);
    if (!m || (m[2] === "" && m[3] === "")) throw new Error(`unreadable term ${t} in ${side}`);
    const coef = q(BigInt(`${m[1] === "-" ? "-" : ""}${m[2] || "1"}`));
    total = apply(total, "+", m[3] === "x" ? apply(coef, "*", x) : m[3] === "y" ? apply(coef, "*", y) : coef);
  }
  return total;
}
