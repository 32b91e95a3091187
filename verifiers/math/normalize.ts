/**
 * Policy §2: rewrite an answer into the one spelling the parser reads. Both the gold and the
 * extracted answer go through it. String rewriting only: it removes presentation (delimiters,
 * spacing, separators, units, degrees, percent) and never changes a value.
 */
import { ASCII_WORDS, FUNCTIONS } from "./tokenize.ts";
import { mapUnicode } from "./unicode.ts";

/** Remove one `\name{…}` wrapper (matching braces), keeping its content, for every occurrence. */
function unwrap(s: string, name: string): string {
  const token = `\\${name}{`;
  for (let at = s.indexOf(token); at >= 0; at = s.indexOf(token, at)) {
    let depth = 0, end = -1;
    for (let j = at + token.length - 1; j < s.length && end < 0; j++) {
      if (s[j] === "\\") j++;
      else if (s[j] === "{") depth++;
      else if (s[j] === "}" && --depth === 0) end = j;
    }
    if (end < 0) return s; // unbalanced: left for the parser to refuse
    s = s.slice(0, at) + s.slice(at + token.length, end) + s.slice(end + 1);
  }
  return s;
}

/** Outer math delimiters, surrounding whitespace and one trailing period. */
export function stripDelimiters(s: string): string {
  s = mapUnicode(s).trim().replace(/(?<!\\)\.$/, "").trim();
  for (const [open, close] of [["$$", "$$"], ["$", "$"], ["\\(", "\\)"], ["\\[", "\\]"]]) {
    if (s.length >= open.length + close.length && s.startsWith(open) && s.endsWith(close) && !s.endsWith("\\" + close)) {
      s = s.slice(open.length, s.length - close.length).trim();
      break;
    }
  }
  return s.replace(/(?<!\\)\.$/, "").trim();
}

const COMMANDS: [RegExp, string][] = [
  [/\\[dtc]frac(?![a-zA-Z])/g, "\\frac"],
  [/\\textnormal(?![a-zA-Z])/g, "\\text"],
  [/\\lt(?![a-zA-Z])/g, "<"],
  [/\\gt(?![a-zA-Z])/g, ">"],
  [/\\lbrace(?![a-zA-Z])/g, "\\{"],
  [/\\rbrace(?![a-zA-Z])/g, "\\}"],
  [/\\[lr]?vert(?![a-zA-Z])/g, "|"],
  [/<=/g, "\\le "],
  [/>=/g, "\\ge "],
  [/\\(left|right)\s*\.|\\(left|right|displaystyle|[bB]igg?[lr]?)(?![a-zA-Z])/g, " "],
];
const UNWRAPPED = ["mathbf", "boldsymbol", "textbf", "boxed"];

function rewriteCommands(s: string): string {
  for (const [re, to] of COMMANDS) s = s.replace(re, to);
  for (const name of UNWRAPPED) if (s.includes(`\\${name}{`)) s = unwrap(s, name);
  return s;
}

/** `,\!`, `{,}`, `\,`, `\ ` between groups of exactly three digits; then the spacing commands. */
function dropSeparators(s: string): string {
  let prev;
  do {
    prev = s;
    s = s.replace(/(\d)(?:,\\!|\{,\}|\\,|\\ )\s*(?=\d{3}(?!\d))/g, "$1");
  } while (s !== prev);
  return s.replace(/(?<!\\)\\[!,;: ]|\\q?quad(?![a-zA-Z])|~/g, " ");
}

const DEGREE_MARK = /(?:\{\s*\})?\s*\^\s*(?:\{\s*\\circ\s*\}|\\circ(?![a-zA-Z]))|\\(?:text)?degree(?![a-zA-Z])|\\text\{\s*degrees?\s*\}/g;
// `\sin`, `\sinx`, ASCII `sin`; not the letters inside a word (`distance`, `seconds`)
const TRIG = /\\(?:sin|cos|tan|cot|sec|csc)|(?<![a-zA-Z])(?:sin|cos|tan|cot|sec|csc)(?![a-zA-Z])/;

/**
 * Degree marks are dropped: an angle is compared by its number (§2). Inside a trig function they
 * are meaning (`\sin 30^\circ` = ½, `\sin 30` is 30 radians), so there they become one `\degree`
 * token that the parser turns into a factor π/180.
 */
function dropDegrees(s: string): string {
  if (!TRIG.test(s)) return s.replace(DEGREE_MARK, "");
  return s.replace(DEGREE_MARK, "\\degree ").replace(/(?<=\d)\s*degrees?(?![a-zA-Z])/g, "\\degree ");
}

const UNIT_ABBREVIATIONS = "cm|mm|km|ft|in|yd|mi|kg|mg|ml|hr|oz|lb|sq";
// Units glued to a number (`5cm`, `3.5dollars`) come only from this list: a glued word of letters
// is otherwise a product of variables (`5x`, `3xyz`). No `in`, `mi`: `2in`, `3mi` read as products with i.
const GLUED_UNITS =
  "dollars?|cents?|percent|degrees?|deg|radians?|inch(?:es)?|feet|foot|ft|yards?|yd|miles?|" +
  "(?:centi|milli|kilo)?met(?:er|re)s?|cm|mm|km|kg|mg|ml|(?:kilo)?grams?|pounds?|lbs?|oz|ounces?|" +
  "lit(?:er|re)s?|gallons?|hours?|hrs?|minutes?|mins?|seconds?|secs|days?|weeks?|months?|years?|mph|units?|sq|square";
const TRAILING_TEXT_UNIT = /\s*\\(?:text|mbox|mathrm|textrm)\{[^{}]*\}\s*(?:\^\s*\{?[23]\}?)?\s*$/;
const POWER = `(?:\\^\\s*\\{?[23]\\}?)?`;
const WORD_UNIT = `\\s*(?<!\\\\)\\b(?:[a-zA-Z]{3,}|${UNIT_ABBREVIATIONS})\\b${POWER}`;
// a run of unit words ("square centimeters"), captured whole so each word can be checked
const TRAILING_WORD_UNIT = new RegExp(`((?:${WORD_UNIT})+)\\s*$`);
const GLUED_UNIT = new RegExp(`(?<=\\d)((?:${GLUED_UNITS})\\b${POWER}(?:${WORD_UNIT})*)\\s*$`);
const AFTER_VALUE = /(?:[\d})]|\\pi|pi)$/;
// `sinx`, `cosxy`: a function glued to its argument, never a unit
const GLUED_FUNCTION = new RegExp(`^(?:${[...FUNCTIONS].join("|")})[a-zA-Z]{1,2}$`);
const LISTED_UNIT = new RegExp(`^(?:${GLUED_UNITS})$`);
const notUnit = (word: string): boolean => ASCII_WORDS.has(word) || (GLUED_FUNCTION.test(word) && !LISTED_UNIT.test(word));

/** Trailing units after a numeric value, `\$`, percent signs and ordinal suffixes. */
function dropUnits(s: string): string {
  s = s.replace(/\\\$|\\%|%/g, " ").replace(/^\$(?=\s*\d[^$]*$)/, "").trim(); // a lone leading $ is currency
  s = s.replace(/(\d)\s*\^\s*\{\s*\\(?:text|mathrm)\{(?:th|st|nd|rd)\}\s*\}/g, "$1").replace(/(\d)(?:th|st|nd|rd)\b/g, "$1");
  for (let i = 0; i < 8; i++) {
    const glued = TRAILING_TEXT_UNIT.test(s) ? null : GLUED_UNIT.exec(s);
    const m = glued ?? TRAILING_TEXT_UNIT.exec(s) ?? TRAILING_WORD_UNIT.exec(s);
    if (!m || (m[1] && m[1].match(/[a-zA-Z]+/g)!.some(notUnit))) break;
    const rest = s.slice(0, m.index).trim();
    if (!AFTER_VALUE.test(rest) || /^\\\w+\{\s*-?[\d.]+\s*\}$/.test(s.slice(m.index).trim())) break;
    if (glued && /[\^_]\s*\{?\s*[\d.]*$/.test(rest)) break; // `x^2cm`: the digit is an exponent, not a value
    s = rest;
  }
  return s;
}

/** A bare `d{1,3}(,ddd)+` or `d{1,3}( ddd)+` whole answer is one number (§2). */
function groupedNumber(s: string): string {
  const m = /^-?\d{1,3}(?:([, ])\d{3})+(?:\.\d+)?$/.exec(s);
  return m ? s.split(m[1]).join("") : s;
}

// "or"/"and" between items, as a word or in \text, with an optional comma before or after
const LIST_WORDS = / ?(?:, ?)?(?:\\text\{ ?(?:or|and) ?\}|(?<![a-zA-Z\\])(?:or|and)(?![a-zA-Z])) ?(?:, ?)?/g;

/** The full §2 pipeline, in the policy's order. */
export function normalize(raw: string): string {
  let s = stripDelimiters(raw).replace(/\s+/g, " "); // one space per run keeps every regex below linear
  s = rewriteCommands(s);
  s = dropSeparators(s);
  s = dropDegrees(s);
  s = dropUnits(s);
  s = s.replace(/^\\text\{\s*(-?[\d.]+)\s*\}$/, "$1");
  s = s.replace(LIST_WORDS, ",").replace(/\s+/g, " ").trim();
  return groupedNumber(s);
}
