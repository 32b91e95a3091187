/**
 * The bounds of policy §11, in one place: every check stops at these and returns a verdict.
 * Exceeding a limit is never an error; callers turn it into `too_long`, `unparseable` or a
 * structure-only comparison.
 */

/** Extracted answers longer than this are `too_long`. */
export const MAX_ANSWER_CHARS = 1000;
/** Deeper bracket/brace nesting than this is `unparseable`. */
export const MAX_DEPTH = 100;
/** No integer or rational with more decimal digits than this is ever built. */
export const MAX_DIGITS = 10_000;
/** Largest n for which n! is computed. */
export const MAX_FACTORIAL = 1000;
/** Most `\pm` signs expanded in one answer (2^k alternatives). */
export const MAX_PM = 6;
/** Root index above which an exact root is not attempted. */
export const MAX_ROOT_INDEX = 64;

/** Thrown when exact evaluation would exceed a limit: compare by structure only. */
export class TooBig extends Error {
  override name = "TooBig";
}
/** Thrown when a value is not rational (radical, π, trig, log): numeric comparison may decide. */
export class NotRational extends Error {
  override name = "NotRational";
}
/** Thrown for values that equal nothing: 1/0, 0/0, 0^-1, log 0. */
export class Undefined extends Error {
  override name = "Undefined";
}
/** Thrown by the parsers for input that does not parse as written. */
export class Unparseable extends Error {
  override name = "Unparseable";
}
