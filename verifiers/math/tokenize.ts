/**
 * LaTeX/ASCII answer → tokens. Numbers, single letters, known ASCII words (sqrt, pi, sin, …),
 * control words (`\frac`, spelled exactly: `\fracab` is one unknown word) and symbols.
 * A run of three or more letters that is not a known word is English and is refused here.
 */
import { Unparseable } from "./limits.ts";

type TokKind = "num" | "letter" | "word" | "cmd" | "sym" | "text";
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

/** ASCII names that mean a function or constant (policy §2: `sqrt(…)`, `pi`, `5pi`). */
export const ASCII_WORDS = new Set([
  "sqrt", "pi", "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp",
  "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
]);

const NUMBER = /\d+(?:\.\d*)?|\.\d+/y;
const EXPONENT = /[eE][+-]?\d+/y;
const OVERLINE = /\\overline\s*\{(\d+)\}|\\overline\s*(\d)/y;
const LETTERS = /[a-zA-Z]+/y;
const COMMAND = /\\([a-zA-Z]+|[^a-zA-Z])/y;

function match(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

/** Split a letter run into tokens: a known word, else single letters when there are at most two. */
function letterTokens(run: string, space: boolean): Tok[] {
  if (ASCII_WORDS.has(run)) return [{ kind: "word", text: run, space }];
  if (run.length >= 3) throw new Unparseable(`English word "${run}" in the answer`);
  return [...run].map((ch, i) => ({ kind: "letter" as const, text: ch, space: space && i === 0 }));
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

/** Tokenize a normalized answer. Throws Unparseable on English words or stray characters. */
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
      if (raw && TEXT_COMMANDS.has(m[1])) out.push({ kind: "text", text: raw[1], space });
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
