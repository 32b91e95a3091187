/**
 * Tokenizers. The byte-level one maps each UTF-8 byte to its own id (0-255), so every string
 * round-trips, and adds <bos> <eos> <pad> after the bytes. The `Tokenizer` interface leaves room
 * for a trained BPE with the same special tokens.
 */

export interface Tokenizer {
  /** "byte" for now; a trained BPE would add its own kind. */
  readonly kind: string;
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  encode(text: string): number[];
  /** Special tokens are dropped unless `keepSpecial` (then they render as `<bos>` etc.). */
  decode(ids: ArrayLike<number>, options?: { keepSpecial?: boolean }): string;
}

const SPECIALS = ["<bos>", "<eos>", "<pad>"] as const;

export class ByteTokenizer implements Tokenizer {
  readonly kind = "byte";
  readonly bos = 256;
  readonly eos = 257;
  readonly pad = 258;
  readonly vocabSize = 256 + SPECIALS.length;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder("utf-8");

  encode(text: string): number[] {
    return Array.from(this.encoder.encode(text));
  }

  decode(ids: ArrayLike<number>, options: { keepSpecial?: boolean } = {}): string {
    let text = "";
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length) text += this.decoder.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < 256) bytes.push(id);
      else if (id < this.vocabSize) {
        if (!options.keepSpecial) continue;
        flush();
        text += SPECIALS[id - 256];
      } else throw new Error(`token id ${id} is outside the byte vocabulary (size ${this.vocabSize})`);
    }
    flush();
    return text;
  }
}

/** The tokenizer a model config names. */
export function makeTokenizer(kind: string): Tokenizer {
  if (kind === "byte") return new ByteTokenizer();
  throw new Error(`unknown tokenizer "${kind}" (known: byte)`);
}
