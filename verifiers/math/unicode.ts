/**
 * Policy §10: map Unicode spellings of ASCII/LaTeX symbols to their plain form and delete
 * invisible characters. Homoglyphs (Cyrillic х, Greek ο, keycap digits) are deliberately left
 * alone: they are other symbols, and the parser rejects or distinguishes them.
 */

const SYMBOLS: Record<string, string> = {
  "\u2212": "-", "\u2013": "-", "×": "\\times ", "·": "\\cdot ", "⋅": "\\cdot ", "÷": "/",
  "π": "\\pi ", "∞": "\\infty ", "°": "^\\circ ", "²": "^2", "³": "^3",
  "½": "\\frac{1}{2}", "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}",
  "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "∪": "\\cup ", "∈": "\\in ", "±": "\\pm ", "∓": "\\mp ",
};

// Cc (controls) and Cf (format: zero-width, BOM, bidi overrides); tab and newline become spaces
const INVISIBLE = /[\p{Cc}\p{Cf}]/gu;
const NEEDS_MAPPING = /[^\x20-\x7e]/;

/** Rewrite one √ into `\sqrt` applied to the following number or group. */
function mapRoot(text: string): string {
  return text.replace(/√\s*(\d+(?:\.\d+)?|\{[^{}]*\}|\([^()]*\)|[a-zA-Z])/g, (_, arg: string) =>
    arg.startsWith("(") ? `\\sqrt{${arg.slice(1, -1)}}` : `\\sqrt{${arg.replace(/^\{|\}$/g, "")}}`,
  );
}

/** Map §10's characters; fast path for plain ASCII. */
export function mapUnicode(text: string): string {
  if (!NEEDS_MAPPING.test(text)) return text;
  let out = "";
  for (const ch of text.replace(/[\t\n\r]/g, " ").replace(INVISIBLE, "")) {
    const cp = ch.codePointAt(0)!;
    if (SYMBOLS[ch] !== undefined) out += SYMBOLS[ch];
    else if (cp >= 0xff01 && cp <= 0xff5e) out += String.fromCharCode(cp - 0xfee0); // full-width ASCII
    else if (cp >= 0x1d7ce && cp <= 0x1d7ff) out += String((cp - 0x1d7ce) % 10); // math digits, 5 styles of 10
    else out += ch;
  }
  return out.includes("√") ? mapRoot(out) : out;
}
