/**
 * The format reward: 1 when the completion has the expected shape, else 0, with the first problem
 * found as the reason. The shape is an answer in the expected form (a closed, non-empty `\boxed{…}`
 * or `<answer>…</answer>`), optional tags in order (`<think>…</think>` before the answer) and an
 * optional regex over the whole text. It never judges whether the answer is right.
 */
import { z } from "zod";
import { extractBoxed } from "./math/index.ts";
import type { Verifier, VerifyResult } from "./types.ts";

const tagName = z.string().regex(/^[A-Za-z][\w-]*$/, "a tag name such as think (no angle brackets)");

export const FormatConfig = z.strictObject({
  answer: z.enum(["boxed", "answer_tag", "none"]).default("boxed")
    .describe("Where the final answer must be: the last \\boxed{…} (math), an <answer>…</answer> block, or not checked."),
  tags: z.array(tagName).default([])
    .describe("Tags that must each appear once, opened and closed, in this order (e.g. [think]); the answer must follow them all or sit inside one named answer."),
  pattern: z.string().optional()
    .refine((p) => p === undefined || isRegex(p), "not a valid JavaScript regular expression")
    .describe("A regular expression the whole completion must match (anchored, dot matches newlines); e.g. ^<think>.*</think>.*$"),
});
export type FormatConfig = z.infer<typeof FormatConfig>;

function isRegex(p: string): boolean {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}

interface Span { start: number; end: number; content: string }

/** The last `\boxed{…}`/`\fbox{…}` (math's extraction rule 1) and where it sits; undefined if absent, unclosed or empty. */
function lastBoxedSpan(text: string): Span | undefined {
  const content = extractBoxed(text);
  if (content === null) return undefined;
  const start = Math.max(text.lastIndexOf("\\boxed"), text.lastIndexOf("\\fbox"));
  const end = text.indexOf(content, start) + content.length + 1;
  return { start, end, content };
}

function lastAnswerTag(text: string): Span | undefined {
  let last: Span | undefined;
  const re = /<answer>([\s\S]*?)<\/answer>/g;
  for (let m = re.exec(text); m; m = re.exec(text)) last = { start: m.index, end: m.index + m[0].length, content: m[1] };
  return last;
}

/** Finds each tag once, in order; returns the spans or the reason it fails. */
function findTags(text: string, tags: string[]): Span[] | { reason: string; tag: string } {
  const spans: Span[] = [];
  let from = 0;
  for (const tag of tags) {
    const open = `<${tag}>`;
    const close = `</${tag}>`;
    const count = (s: string) => text.split(s).length - 1;
    if (count(open) !== 1 || count(close) !== 1) return { reason: count(open) + count(close) === 0 ? "missing_tag" : "repeated_tag", tag };
    const start = text.indexOf(open);
    const end = text.indexOf(close) + close.length;
    if (end < start + open.length + close.length) return { reason: "unclosed_tag", tag };
    if (start < from) return { reason: "tag_order", tag };
    spans.push({ start, end, content: text.slice(start + open.length, end - close.length) });
    from = end;
  }
  return spans;
}

/** Scores the shape of one completion: reward 1 (`ok`) or 0 with the first problem as the reason. */
export function checkFormat(completion: string, config: FormatConfig): VerifyResult {
  if (config.pattern !== undefined && !new RegExp(`^(?:${config.pattern})$`, "s").test(completion)) {
    return { reward: 0, reason: "pattern_mismatch" };
  }
  const tags = findTags(completion, config.tags);
  if (!Array.isArray(tags)) return { reward: 0, ...tags };
  if (config.answer === "none") return { reward: 1, reason: "ok" };
  const answer = config.answer === "boxed" ? lastBoxedSpan(completion) : lastAnswerTag(completion);
  if (!answer || answer.content.trim() === "") return { reward: 0, reason: config.answer === "boxed" ? "no_boxed" : "no_answer_tag" };
  // the answer follows every listed tag, or sits inside a tag named answer (<answer>\boxed{4}</answer>)
  const placed = (t: Span, i: number) =>
    answer.start >= t.end || (config.tags[i] === "answer" && answer.start >= t.start && answer.end <= t.end);
  const before = config.tags.find((_, i) => !placed(tags[i], i));
  if (before !== undefined) return { reward: 0, reason: "answer_before_tag", tag: before };
  return { reward: 1, reason: "ok", answer: answer.content.trim() };
}

/** The `format` verifier with its options validated. */
export function formatVerifier(options: unknown = {}): Verifier {
  const config = FormatConfig.parse(options);
  return { name: "format", verify: (completion) => checkFormat(completion, config) };
}
