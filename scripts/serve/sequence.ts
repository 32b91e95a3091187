/**
 * One sequence of a served request: sampling its tokens from the logits the batch computes for it,
 * its text as it streams, and why it stopped. Sampling is the trainer's `drawToken` with the
 * sequence's own generator, so it draws the same tokens in any batch.
 */
import type { Tokenizer } from "../../trainer/model/tokenizer.ts";
import type { Rng } from "../../datasets/rng.ts";
import { drawToken } from "../../trainer/sampler.ts";

export interface SequenceSpec {
  /** Prompt token ids (with <bos>). */
  prompt: number[];
  /** Budget of new tokens; prompt.length + maxTokens must fit the context. */
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  stop: string[];
  rng: Rng;
  /** Report the raw model log-probability of each sampled token and this many alternatives; null = none. */
  topLogprobs: number | null;
}

export interface TokenLogprob {
  token: number;
  /** log-softmax of the raw logits (temperature 1, no top-k/top-p), as vLLM and OpenAI report. */
  logprob: number;
  top: { token: number; logprob: number }[];
}

/** One sampled token, with the text it released (held-back text comes out later, see TextStream). */
export interface TokenEvent {
  delta: string;
  logprob?: TokenLogprob;
}

export interface SequenceResult {
  text: string;
  /** Sampled ids, including a final <eos> and the bytes of a matched stop string. */
  tokens: number[];
  logprobs?: TokenLogprob[];
  finishReason: "eos" | "stop" | "length";
  /** The stop string that ended the sequence, if one did. */
  stopString?: string;
  /** Text released after the last token event; every delta joined equals `text`. */
  delta: string;
}

/** One sequence being decoded: its tokens, text, and why it stopped. */
export class Sequence {
  readonly tokens: number[] = [];
  readonly logprobs: TokenLogprob[] = [];
  done = false;
  private reason: SequenceResult["finishReason"] = "length";
  private stopString?: string;
  private readonly text: TextStream;

  constructor(
    readonly spec: SequenceSpec,
    private readonly tokenizer: Tokenizer,
  ) {
    this.text = new TextStream(spec.stop);
  }

  /** Samples the next token from this row's logits [V]. */
  step(logits: Float32Array): TokenEvent {
    const { token } = drawToken(logits, { temperature: this.spec.temperature, top_k: this.spec.topK, top_p: this.spec.topP }, this.spec.rng);
    this.tokens.push(token);
    const logprob = this.spec.topLogprobs === null ? undefined : rawLogprob(logits, token, this.spec.topLogprobs);
    if (logprob) this.logprobs.push(logprob);
    this.text.push(token);
    if (token === this.tokenizer.eos) this.finish("eos");
    else if (this.text.stopHit) this.finish("stop", this.text.stopHit);
    else if (this.tokens.length >= this.spec.maxTokens) this.finish("length");
    return { delta: this.done ? "" : this.text.release(), logprob };
  }

  /** The token to feed next: the last one sampled. */
  get last(): number {
    return this.tokens[this.tokens.length - 1];
  }

  private finish(reason: SequenceResult["finishReason"], stopString?: string): void {
    this.done = true;
    this.reason = reason;
    this.stopString = stopString;
  }

  result(): SequenceResult {
    const { text, delta } = this.text.finish();
    return {
      text,
      delta,
      tokens: this.tokens,
      logprobs: this.spec.topLogprobs === null ? undefined : this.logprobs,
      finishReason: this.reason,
      stopString: this.stopString,
    };
  }
}

/**
 * Completion text as tokens arrive. Text is released only when it is final: bytes of an unfinished
 * UTF-8 character wait for the rest, and a tail that could be the start of a stop string waits
 * until it is not (or is cut). So the released deltas always add up to the final text.
 */
export class TextStream {
  private readonly decoder = new TextDecoder("utf-8");
  private text = "";
  private released = 0;
  /** The earliest stop string found in the text, once one is. */
  stopHit?: string;
  private cut = -1;

  constructor(private readonly stop: string[]) {}

  /** Byte-level ids: 0-255 are UTF-8 bytes, decoded incrementally; specials are dropped (as Tokenizer.decode does). */
  push(token: number): void {
    if (token >= 256) return;
    this.text += this.decoder.decode(Uint8Array.of(token), { stream: true });
    let best = -1;
    for (const s of this.stop) {
      const i = this.text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) [best, this.stopHit] = [i, s];
    }
    if (best >= 0) this.cut = best;
  }

  /** New text that can no longer change. */
  release(): string {
    const safe = this.text.length - this.heldBack();
    const delta = this.text.slice(this.released, safe);
    this.released = Math.max(this.released, safe);
    return delta;
  }

  /** The final text (cut before a stop string) and what had not been released yet. */
  finish(): { text: string; delta: string } {
    if (this.cut < 0) this.text += this.decoder.decode();
    const text = this.cut >= 0 ? this.text.slice(0, this.cut) : this.text;
    const delta = text.slice(this.released);
    this.released = text.length;
    return { text, delta };
  }

  /** Length of the longest tail of the text that is a proper prefix of a stop string. */
  private heldBack(): number {
    let hold = 0;
    for (const s of this.stop) {
      for (let n = Math.min(s.length - 1, this.text.length); n > hold; n--) {
        if (this.text.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    return hold;
  }
}

/** Raw log-softmax of the sampled token and the `top` most likely tokens. */
function rawLogprob(logits: Float32Array, token: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (const l of logits) if (l > max) max = l;
  let sum = 0;
  for (const l of logits) sum += Math.exp(l - max);
  const lse = max + Math.log(sum);
  const best = top > 0 ? Array.from({ length: logits.length }, (_, v) => v).sort((a, b) => logits[b] - logits[a] || a - b).slice(0, top) : [];
  return { token, logprob: logits[token] - lse, top: best.map((v) => ({ token: v, logprob: logits[v] - lse })) };
}
