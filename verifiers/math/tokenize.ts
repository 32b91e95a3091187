/**
 * LaTeX/ASCII answer → tokens. Numbers, single letters, known ASCII words (sqrt, pi, sin, …),
 * control words (`\frac`, spelled exactly: `\fracab` is one unknown word; only a function name
 * glued to its argument, `\tanx`, is split) and symbols. A run of three or more letters that is
 * not a known word is an English word: its own token, which no expression accepts, so it can
 * stand only where nothing is graded (the left side of an equation, §5).
 */
import { Unparseable } from "./limits.ts";

type TokKind = "num" | "letter" | "word" | "english" | "cmd" | "sym" | "text";
export interface Tok {
  kind: TokKind;
  text: string; // num: the literal; cmd: name without the backslash; others: the characters
  space: boolean; // whitespace before this token
  repeat?: string; // num: the digits of a trailing \overline{…}
  arg?: string; // cmd begin/end/mathbb: the raw braced argument
}

/** Commands whose braced argument is raw text, not math: one token each. */
const TEXT_COMMANDS = new Set(["text", "textbf", "mathrm", "textrm", "mbox", "textit", "mathit"]);
const RAW_ARG_COMMANDS = new Set(["begin", "end", "mathbb"]);
const RAW_GROUP = /\s*\{([^{}]*)\}/y;

/** Function names, as control words (`\sin`) and as ASCII words (`sin`). */
export const FUNCTIONS = new Set([
  "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
  "log", "ln", "exp",
]);
/** ASCII names that mean a function or constant (policy §2: `sqrt(…)`, `pi`, `5pi`). */
export const ASCII_WORDS = new Set([...FUNCTIONS, "sqrt", "pi"]);
// longest first, so `\sinhx` is sinh x, not sin hx
const GLUE_PREFIXES = [...FUNCTIONS].sort((a, b) => b.length - a.length);
// real control words that begin with a function name: never split
const NOT_GLUED = new Set(["coth", "sech", "csch", "lnot", "lneq", "lneqq", "lnsim", "lnapprox", "expandafter"]);

const NUMBER = /\d+(?:\.\d*)?|\.\d+/y;
const EXPONENT = /[eE][+-]?\d+/y;
const OVERLINE = /\\overline\s*\{(\d+)\}|\\overline\s*(\d)/y;
const LETTERS = /[a-zA-Z]+/y;
const COMMAND = /\\([a-zA-Z]+|[^a-zA-Z])/y;

function match(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

/** Split a letter run into tokens: a known word, an English word, else single letters (at most two). */
function letterTokens(run: string, space: boolean): Tok[] {
  if (ASCII_WORDS.has(run)) return [{ kind: "word", text: run, space }];
  if (run.length >= 3) return [{ kind: "english", text: run, space }];
  return [...run].map((ch, i) => ({ kind: "letter" as const, text: ch, space: space && i === 0 }));
}

/** `\tanx`, `\lnx`: a function name glued to a letter argument, as `\tan x`; null for any other word. */
function gluedFunction(name: string, space: boolean): Tok[] | null {
  if (FUNCTIONS.has(name) || NOT_GLUED.has(name)) return null;
  const fn = GLUE_PREFIXES.find((f) => name.startsWith(f));
  if (!fn) return null;
  return [{ kind: "cmd", text: fn, space }, ...letterTokens(name.slice(fn.length), false)];
}

function numberToken(s: string, at: number, space: boolean): [Tok, number] {
  const m = match(NUMBER, s, at)!;
  let end = at + m[0].length;
  const tok: Tok = { kind: "num", text: m[0], space };
  const ex = match(EXPONENT, s, end);
  if (ex) {
    tok.text += ex[0].toLowerCase();
    end += ex[0].length;
  } else if (m[0].includes(".")) {
    const ov = match(OVERLINE, s, end);
    if (ov) {
      tok.repeat = ov[1] ?? ov[2];
      end += ov[0].length;
    }
  }
  return [tok, end];
}

/** Tokenize a normalized answer. Throws Unparseable on stray characters. */
export function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0, space = false;
  while (i < s.length) {
    const ch = s[i];
    if (ch === " ") {
      space = true;
      i++;
      continue;
    }
    if ((ch >= "0" && ch <= "9") || (ch === "." && /\d/.test(s[i + 1] ?? ""))) {
      const [tok, end] = numberToken(s, i, space);
      out.push(tok);
      i = end;
    } else if (/[a-zA-Z]/.test(ch)) {
      const run = match(LETTERS, s, i)![0];
      out.push(...letterTokens(run, space));
      i += run.length;
    } else if (ch === "\\") {
      const m = match(COMMAND, s, i);
      if (!m) throw new Unparseable("a lone backslash at the end of the answer");
      i += m[0].length;
      const raw = TEXT_COMMANDS.has(m[1]) || RAW_ARG_COMMANDS.has(m[1]) ? match(RAW_GROUP, s, i) : null;
      if (raw) i += raw[0].length;
      const glued = raw ? null : gluedFunction(m[1], space);
      if (glued) out.push(...glued);
      else if (raw && TEXT_COMMANDS.has(m[1])) out.push({ kind: "text", text: raw[1], space });
      else out.push({ kind: "cmd", text: m[1], space, arg: raw?.[1] });
    } else if ("+-*/^_()[]{},=<>!|&:;'".includes(ch)) {
      out.push({ kind: "sym", text: ch, space });
      i++;
    } else {
      throw new Unparseable(`unexpected character "${ch}" at ${i}`);
    }
    space = false;
  }
  return out;
}
