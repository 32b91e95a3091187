/**
 * Finds the program in a model's completion: the last fenced block tagged python/py or
 * javascript/js (node/nodejs too). Untagged fences and other languages are ignored, so prose
 * examples in ```text``` or shell blocks are never run. Does not run or check the code.
 */
import { normalizeLanguage, type Language } from "./runtimes.ts";

export interface ExtractedCode {
  language: Language;
  code: string;
}

// An opening fence with an info string, the body, and a closing fence at the start of a line.
const FENCE = /^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n([\s\S]*?)^[ \t]*```/gm;

/**
 * The last fenced python or javascript block, or null. With `language`, only blocks of that
 * language count (a row that asks for Python is not answered by a JavaScript block).
 */
export function extractCode(completion: string, language?: string): ExtractedCode | null {
  const wanted = language === undefined ? null : normalizeLanguage(language);
  if (language !== undefined && wanted === null) return null;
  let found: ExtractedCode | null = null;
  for (const m of completion.matchAll(FENCE)) {
    const lang = normalizeLanguage(m[1]);
    if (lang === null || (wanted !== null && lang !== wanted)) continue;
    found = { language: lang, code: m[2] };
  }
  return found;
}
