/**
 * The verifier contract: (completion, row, ctx) → { reward, reason, ...details }.
 * Verifiers are deterministic and may be sync or async. `reward: null` means "cannot judge"
 * (counted, never fatal). The registry wraps every verifier with a time limit and crash isolation:
 * a throw or a timeout becomes `{ reward: 0, reason }` and is counted in `verify/errors`.
 */
import type { Row } from "../datasets/row.ts";

export interface VerifyContext {
  /** Wall-clock budget for this one check, in milliseconds. */
  timeoutMs: number;
  /** Aborted when the budget is spent; long-running verifiers should stop early. */
  signal?: AbortSignal;
  /** Number of tokens in the completion (for length-based rewards), when known. */
  completionTokens?: number;
  /** The sampler's max new tokens (for the soft overlong penalty), when known. */
  maxCompletionTokens?: number;
}

export interface VerifyResult {
  /** The reward, or null when the verifier cannot judge this sample. */
  reward: number | null;
  /** Why: a short machine-readable code such as `equal_exact`, `no_answer`, `timeout`. */
  reason: string;
  /** Anything else worth logging (extracted answer, verdict, timings). */
  [detail: string]: unknown;
}

export interface Verifier {
  /** Stable name used in recipes and metric keys (`rewards/<name>/mean`). */
  name: string;
  verify(completion: string, row: Row, ctx: VerifyContext): VerifyResult | Promise<VerifyResult>;
}
