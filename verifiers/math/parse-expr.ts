/**
 * Tokens → expression tree, by TeX's argument rules: `\frac`, `\sqrt`, `^`, `_` take one braced
 * group or one token (`\frac123` = ½·3). Implicit products, mixed numbers (`2\frac13`, `2 1/3`),
 * `\pm`, factorials, functions. Nothing is evaluated or repaired here; unknown commands and
 * dangling or doubled operators throw Unparseable.
 */
import { add, fn, mul, neg, num, sym, type Expr } from "./expr.ts";
import { MAX_DEPTH, Unparseable } from "./limits.ts";
import { ASCII_WORDS, FUNCTIONS, type Tok } from "./tokenize.ts";

const GREEK = new Set([
  "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
  "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
  "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
]);
const TRIG = new Set(["sin", "cos", "tan", "cot", "sec", "csc"]);
const TIMES = new Set(["*", "cdot", "times"]);
const SIGNS = new Set(["+", "-", "pm", "mp"]);

/** Parse a decimal literal, with an optional exponent or repeating block, exactly. */
export function literal(tok: Tok): Expr {
  const [mant, exp] = tok.text.split("e");
  const [whole, frac = ""] = mant.split(".");
  const digits = (whole || "0") + frac;
  const dec = mant.includes(".");
  let value: Expr;
  if (tok.repeat) {
    const all = BigInt(digits + tok.repeat) - BigInt(digits);
    value = num(all, 10n ** BigInt(frac.length) * (10n ** BigInt(tok.repeat.length) - 1n), true);
  } else value = num(BigInt(digits), 10n ** BigInt(frac.length), dec);
  if (exp === undefined) return value;
  return mul(value, { k: "pow", a: num(10n), b: num(BigInt(exp)) });
}

const isInteger = (t: Tok | undefined): boolean => t?.kind === "num" && /^\d+$/.test(t.text) && !t.repeat;
const isSym = (t: Tok | undefined, ...s: string[]): boolean =>
  t !== undefined && (t.kind === "sym" || t.kind === "cmd") && s.includes(t.text);

class ExprParser {
  private pos = 0;
  private depth = 0;
  private absOpen = 0; // inside |…|, a bar closes instead of starting a factor
  private inTrig = 0; // inside a trig function's argument, where a degree mark converts to radians
  private readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks.slice(); // one-token arguments may split a number token in place
  }

  /** Parse the whole token list as one expression. */
  parseAll(): Expr {
    if (this.toks.length === 0) throw new Unparseable("empty expression");
    const e = this.sum();
    if (this.pos < this.toks.length) throw new Unparseable(`unexpected "${this.toks[this.pos].text}"`);
    return e;
  }

  private peek(o = 0): Tok | undefined {
    return this.toks[this.pos + o];
  }
  private take(): Tok {
    const t = this.toks[this.pos++];
    if (!t) throw new Unparseable("the expression ends too early (dangling operator?)");
    return t;
  }
  /** Consume the next token if it is the symbol s. */
  private skip(s: string): boolean {
    if (!isSym(this.peek(), s)) return false;
    this.pos++;
    return true;
  }
  private expect(...s: string[]): void {
    const t = this.take();
    if (!isSym(t, ...s)) throw new Unparseable(`expected "${s[0]}", found "${t.text}"`);
  }

  private sum(): Expr {
    let acc: Expr | null = null;
    if (isSym(this.peek(), ...SIGNS)) acc = this.applySign(null, this.take().text);
    else acc = this.product();
    while (isSym(this.peek(), ...SIGNS)) acc = this.applySign(acc, this.take().text);
    return acc;
  }

  private applySign(left: Expr | null, op: string): Expr {
    if (isSym(this.peek(), ...SIGNS)) throw new Unparseable("doubled sign");
    const right = this.product();
    if (op === "pm" || op === "mp") return { k: "pm", a: left, b: right };
    const term = op === "-" ? neg(right) : right;
    return left ? add(left, term) : term;
  }

  private product(): Expr {
    let acc = this.power();
    for (;;) {
      const t = this.peek();
      if (isSym(t, ...TIMES) || isSym(t, "/", "div")) {
        this.pos++;
        const signed = isSym(this.peek(), "-", "+") ? this.take().text : "";
        if (isSym(this.peek(), ...SIGNS)) throw new Unparseable("doubled sign");
        let right = this.power();
        if (signed === "-") right = neg(right);
        acc = isSym(t, "/", "div") ? { k: "div", a: acc, b: right } : mul(acc, right);
      } else if (this.startsFactor(t)) acc = mul(acc, this.power());
      else return acc;
    }
  }

  private startsFactor(t: Tok | undefined): boolean {
    if (!t) return false;
    if (t.kind !== "sym" && t.kind !== "cmd") return true;
    if (t.kind === "sym") return t.text === "(" || t.text === "{" || (t.text === "|" && this.absOpen === 0);
    return !["cdot", "times", "div", "pm", "mp", "degree"].includes(t.text) && !/^[^a-zA-Z]$/.test(t.text);
  }

  private power(): Expr {
    if (++this.depth > MAX_DEPTH * 2) throw new Unparseable("nested too deeply");
    let base = this.postfix(this.primary());
    if (isSym(this.peek(), "^")) {
      this.pos++;
      base = this.postfix({ k: "pow", a: base, b: this.script() });
      if (isSym(this.peek(), "^")) throw new Unparseable("double superscript");
    }
    this.depth--;
    return base;
  }

  /** Factorials, and `\degree` (left by normalize only beside a trig function): π/180 in a trig argument, else nothing. */
  private postfix(e: Expr, degreesOnly = false): Expr {
    for (;;) {
      if (isSym(this.peek(), "!") && !degreesOnly) e = fn("fact", e);
      else if (isSym(this.peek(), "degree")) e = this.inTrig > 0 ? mul(e, { k: "div", a: sym("pi"), b: num(180n) }) : e;
      else return e;
      this.pos++;
    }
  }

  /** The argument of `^`: a group, an ASCII parenthesis, or one token. */
  private script(): Expr {
    if (isSym(this.peek(), "(")) return this.primary();
    return this.arg();
  }

  /** A TeX macro argument: `{…}` or exactly one token (one digit of a number). */
  private arg(): Expr {
    const t = this.peek();
    if (!t) throw new Unparseable("missing argument");
    if (isSym(t, "{")) return this.group("{", "}");
    if (t.kind === "num") {
      if (t.repeat || t.text.includes("e")) throw new Unparseable("a decimal as a one-token argument");
      if (t.text.length > 1) {
        this.toks[this.pos] = { ...t, text: t.text.slice(1), space: false };
        if (t.text[0] === ".") throw new Unparseable("a decimal point as an argument");
        return num(BigInt(t.text[0]));
      }
      this.pos++;
      return literal(t);
    }
    if (t.kind === "letter" || (t.kind === "cmd" && (GREEK.has(t.text) || t.text === "pi" || t.text === "infty")))
      return this.primary();
    throw new Unparseable(`"${t.text}" cannot be a one-token argument`);
  }

  private group(open: string, close: string): Expr {
    this.expect(open);
    if (isSym(this.peek(), close)) throw new Unparseable("empty group");
    const e = this.sum();
    this.expect(close);
    return e;
  }

  private primary(): Expr {
    const t = this.take();
    switch (t.kind) {
      case "num":
        return this.mixedNumber(t) ?? literal(t);
      case "letter":
        return this.subscripted(t.text);
      case "word":
        return this.word(t.text);
      case "english":
        throw new Unparseable(`English word "${t.text}" in the answer`);
      case "cmd":
        return this.command(t.text);
      case "text":
        return this.textValue(t.text);
      case "sym":
        if (t.text === "|") return this.absolute();
        if (t.text !== "(" && t.text !== "{") throw new Unparseable(`unexpected "${t.text}"`);
        this.pos--;
        return this.group(t.text, t.text === "(" ? ")" : "}");
    }
  }

  private absolute(): Expr {
    this.absOpen++;
    const e = this.sum();
    this.expect("|");
    this.absOpen--;
    return fn("abs", e);
  }

  /** `a\frac{b}{c}` and `a b/c` with integer literals are a + b/c (policy §2). */
  private mixedNumber(t: Tok): Expr | null {
    if (!isInteger(t)) return null;
    const [n1, n2, n3, n4] = [this.peek(), this.peek(1), this.peek(2), this.peek(3)];
    const whole = BigInt(t.text);
    if (isSym(n1, "frac") && n2 && isSym(n2, "{") && isInteger(n3) && isSym(n4, "}")) {
      const save = this.pos;
      this.pos++;
      const [a, b] = [this.arg(), this.arg()];
      if (a.k === "num" && b.k === "num" && !a.dec && !b.dec) return add(num(whole), { k: "div", a, b });
      this.pos = save;
    } else if (isSym(n1, "frac") && n2?.kind === "num" && n2.text.length <= 2 && isInteger(n2)) {
      const save = this.pos;
      this.pos++;
      const [a, b] = [this.arg(), this.arg()];
      if (a.k === "num" && b.k === "num") return add(num(whole), { k: "div", a, b });
      this.pos = save;
    } else if (isInteger(n1) && n1!.space && isSym(n2, "/") && isInteger(n3) && !this.startsFactor(n4) && !isSym(n4, "^", "!")) {
      this.pos += 3;
      return add(num(whole), { k: "div", a: literal(n1!), b: literal(n3!) });
    }
    return null;
  }

  /** A name with an optional subscript, which becomes part of the name: `x_1`, `a_{n+1}`. */
  private subscripted(name: string): Expr {
    if (!isSym(this.peek(), "_")) return sym(name);
    this.pos++;
    const t = this.take();
    if (!isSym(t, "{")) return sym(`${name}_${t.text[0]}`);
    let label = "";
    for (let u = this.take(); !isSym(u, "}"); u = this.take()) {
      if (isSym(u, "{")) throw new Unparseable("nested braces in a subscript");
      if (u.kind === "english") throw new Unparseable(`English word "${u.text}" in a subscript`);
      label += u.kind === "cmd" ? `\\${u.text}` : u.text;
    }
    if (!label) throw new Unparseable("empty subscript");
    return sym(`${name}_${label}`);
  }

  private word(w: string): Expr {
    if (w === "pi") return sym("pi");
    if (w === "sqrt") return fn("sqrt", isSym(this.peek(), "(") ? this.primary() : this.arg());
    if (ASCII_WORDS.has(w)) return this.functionCall(w);
    throw new Unparseable(`unknown word "${w}"`);
  }

  private command(c: string): Expr {
    if (c === "frac") return { k: "div", a: this.arg(), b: this.arg() };
    if (c === "sqrt") return this.root();
    if (c === "binom" || c === "dbinom" || c === "tbinom") return fn("binom", this.arg(), this.arg());
    if (c === "pi" || c === "infty") return sym(c);
    if (GREEK.has(c)) return this.subscripted(c);
    if (FUNCTIONS.has(c)) return this.functionCall(c);
    throw new Unparseable(`unknown command "\\${c}"`);
  }

  private root(): Expr {
    if (!isSym(this.peek(), "[")) return fn("sqrt", this.arg());
    this.pos++;
    const index = this.sum();
    this.expect("]");
    return fn("root", this.arg(), index);
  }

  /** `\text{12}` is 12 and `\text{x}` is x; any other text inside an expression is refused. */
  private textValue(raw: string): Expr {
    const inner = raw.trim();
    if (/^\d+(\.\d+)?$/.test(inner)) return literal({ kind: "num", text: inner, space: false });
    if (/^[a-zA-Z]$/.test(inner)) return sym(inner);
    throw new Unparseable(`text "${inner}" inside an expression`);
  }

  /** `\sin x`, `\sin(x)`, `\sin^2 x`, `\log_2 8`, `\sin 2x` (argument: the implicit product). */
  private functionCall(name: string): Expr {
    const base = name === "log" && this.skip("_") ? this.arg() : null;
    const power = this.skip("^") ? this.script() : null;
    const trig = TRIG.has(name) ? 1 : 0;
    this.inTrig += trig;
    let argument: Expr;
    if (isSym(this.peek(), "(")) argument = this.postfix(this.primary(), true); // `\sin(30)^\circ`
    else {
      argument = this.power();
      while (this.startsFactor(this.peek()) && !this.startsFunction(this.peek())) argument = mul(argument, this.power());
    }
    this.inTrig -= trig;
    const call = base ? fn("log", argument, base) : fn(name, argument);
    return power ? { k: "pow", a: call, b: power } : call;
  }

  private startsFunction(t: Tok | undefined): boolean {
    if (!t || (t.kind !== "word" && t.kind !== "cmd")) return false;
    return FUNCTIONS.has(t.text) || (ASCII_WORDS.has(t.text) && t.text !== "pi" && t.text !== "sqrt");
  }
}

/** Parse tokens as one expression. */
export function parseExpr(toks: Tok[]): Expr {
  return new ExprParser(toks).parseAll();
}
