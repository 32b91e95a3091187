/**
 * Policy §1: find the final answer in a completion. Rules in order: last box, answer phrase,
 * bare single-line answer, last math span or plain number. Every scan is linear in the
 * completion's length (a 1 MB completion or 100 000 nested braces take milliseconds).
 */
import { normalize, stripDelimiters } from "./normalize.ts";
import { parseAnswer } from "./parse-answer.ts";
import { MAX_ANSWER_CHARS } from "./limits.ts";

const BOX_TOKEN = /\\(?:boxed|fbox)(?![a-zA-Z])/g;
const HAS_BOX = /\\(?:boxed|fbox)(?![a-zA-Z])/;

/** Index just past the `}` matching the `{` at `open`, or -1; escaped `\{` `\}` do not count. */
function matchBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\") i++;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return i + 1;
  }
  return -1;
}

/** Content of the last `\boxed{…}`/`\fbox{…}`; null if there is none, or it is unclosed or empty. */
export function extractBoxed(text: string): string | null {
  let last = -1;
  for (const m of text.matchAll(BOX_TOKEN)) last = m.index + m[0].length;
  if (last < 0) return null;
  let open = last;
  while (open < text.length && /\s/.test(text[open])) open++;
  if (text[open] !== "{") return null;
  const end = matchBrace(text, open);
  if (end < 0) return null;
  const content = text.slice(open + 1, end - 1);
  return content.trim() ? content : null;
}

interface Span {
  start: number; // index of the opening delimiter
  end: number; // index just past the closing delimiter
  body: string;
}

const PAIRS: [string, string][] = [["$$", "$$"], ["$", "$"], ["\\(", "\\)"], ["\\[", "\\]"]];

/**
 * The math span opening at i (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`), or null. `noCloser` remembers,
 * per closing delimiter, a position after which it never occurs, so a scan over many unclosed
 * openers stays linear.
 */
function spanAt(text: string, i: number, noCloser = new Map<string, number>()): Span | null {
  if (text[i] === "$" && i > 0 && text[i - 1] === "\\") return null; // \$ is an escaped dollar
  for (const [open, close] of PAIRS) {
    if (!text.startsWith(open, i)) continue;
    const from = i + open.length;
    if (from >= (noCloser.get(close) ?? Infinity)) return null;
    let j = text.indexOf(close, from);
    while (close === "$" && j > 0 && text[j - 1] === "\\") j = text.indexOf(close, j + 1);
    if (j < 0) {
      noCloser.set(close, Math.min(from, noCloser.get(close) ?? Infinity));
      return null;
    }
    return { start: i, end: j + close.length, body: text.slice(i + open.length, j) };
  }
  return null;
}

/** All math spans, left to right, and the plain-text stretches between them. */
function scanSpans(text: string): { spans: Span[]; plain: [number, string][] } {
  const spans: Span[] = [], plain: [number, string][] = [];
  const noCloser = new Map<string, number>();
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch !== "$" && !(ch === "\\" && (text[i + 1] === "(" || text[i + 1] === "["))) continue;
    const span = spanAt(text, i, noCloser);
    if (!span) continue;
    plain.push([from, text.slice(from, i)]);
    spans.push(span);
    from = span.end;
    i = span.end - 1;
  }
  plain.push([from, text.slice(from)]);
  return { spans, plain };
}

const PHRASE = /answer(?:\s+is|\s*:|(?=\s*(?:\$|\\\(|\\\[)))/gi;

/** Rule 2: the answer after the last "answer is" / "answer:" / "answer $". */
function afterPhrase(text: string): string | null | undefined {
  let at = -1;
  for (const m of text.matchAll(PHRASE)) at = m.index + m[0].length;
  if (at < 0) return undefined;
  while (at < text.length && /[\s*:]/.test(text[at])) at++;
  const span = spanAt(text, at);
  if (span) return span.body.trim() || null;
  let line = text.slice(at).split("\n", 1)[0];
  const stop = line.indexOf(". ");
  if (stop >= 0) line = line.slice(0, stop);
  line = line.replace(/\.\s*$/, "").trim();
  return line || null;
}

/** Whether a string parses as an answer once delimiters are stripped (rule 3). */
function parsesAsAnswer(s: string): boolean {
  if (s.length > MAX_ANSWER_CHARS) return false;
  const n = normalize(s);
  if (/^\\text\{[^{}]+\}$/.test(n)) return true;
  try {
    parseAnswer(n);
    return true;
  } catch {
    return false;
  }
}

const PLAIN_NUMBER = /-?\d+(?:,\d{3})*(?:\.\d+)?(?:\/\d+)?/g;

/** Rule 4: the last math span or plain-text number, whichever ends later. */
function lastValue(text: string): string | null {
  const { spans, plain } = scanSpans(text);
  let best: { end: number; value: string } | null = null;
  const lastSpan = spans.filter((s) => s.body.trim()).pop();
  if (lastSpan) best = { end: lastSpan.end, value: lastSpan.body.trim() };
  for (let p = plain.length - 1; p >= 0; p--) {
    const [offset, stretch] = plain[p];
    let found: RegExpMatchArray | null = null;
    for (const m of stretch.matchAll(PLAIN_NUMBER)) found = m;
    if (!found) continue;
    const end = offset + found.index! + found[0].length;
    if (!best || end > best.end) best = { end, value: found[0] };
    break;
  }
  return best?.value ?? null;
}

const BARE_WORDS = /^\(?[A-Za-z][A-Za-z' -]*\)?$/;

/**
 * Rule 3 for a text gold: the last line, when it is only words (`Even`, `**Even.**`,
 * `$\text{Ellipse}$`, `(C)`), is the answer. A word inside a sentence never is: the whole
 * line is graded, so "It is not even." stays wrong.
 */
function lastLineWords(text: string): string | null {
  const line = text.trimEnd().split("\n").pop()!;
  if (line.length > MAX_ANSWER_CHARS) return null;
  let s = stripDelimiters(line.replace(/\*\*|__/g, ""));
  const wrapped = /^\\(?:text|textbf|mathrm|textrm)\s*\{([^{}]*)\}$/.exec(s);
  if (wrapped) s = wrapped[1].trim();
  return BARE_WORDS.test(s) ? s : null;
}

/**
 * The final answer of a completion by §1's rules, or null (`no_answer`). `textGold` says whether
 * the gold is a `\text{…}` word (§8), so a bare word on the last line is the answer; it is asked
 * only when no box or phrase decided.
 */
export function extractAnswer(text: string, textGold: () => boolean = () => false): string | null {
  if (HAS_BOX.test(text)) return extractBoxed(text);
  const phrase = afterPhrase(text);
  if (phrase !== undefined) return phrase;
  const words = textGold() ? lastLineWords(text) : null;
  if (words !== null) return words;
  const trimmed = text.trim();
  if (trimmed && !trimmed.includes("\n") && parsesAsAnswer(trimmed)) return stripDelimiters(trimmed);
  return lastValue(text);
}
