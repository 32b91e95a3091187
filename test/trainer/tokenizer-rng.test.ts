import { expect, test } from "vitest";
import { ByteTokenizer } from "../../trainer/model/tokenizer.ts";
import { deriveSeed, Rng } from "../../datasets/rng.ts";

test("every UTF-8 string round-trips through the byte tokenizer", () => {
  const tok = new ByteTokenizer();
  const samples = ["", "plain ascii 123", "\\boxed{\\frac{1}{2}}", "naïve café — π ≈ 3.14159", "emoji 🧮🚀", "中文数学", "tab\tnew\nline\r\n", "\u0000nul"];
  expect(samples.length).toBeGreaterThan(0);
  for (const s of samples) {
    const ids = tok.encode(s);
    expect(ids.every((i) => i >= 0 && i < 256)).toBe(true);
    expect(tok.decode(ids)).toBe(s);
  }
  expect(tok.encode("é")).toEqual([0xc3, 0xa9]);
});

test("special tokens sit after the bytes and are dropped or rendered on decode", () => {
  const tok = new ByteTokenizer();
  expect([tok.bos, tok.eos, tok.pad, tok.vocabSize]).toEqual([256, 257, 258, 259]);
  const ids = [tok.bos, ...tok.encode("hi"), tok.eos, tok.pad];
  expect(tok.decode(ids)).toBe("hi");
  expect(tok.decode(ids, { keepSpecial: true })).toBe("<bos>hi<eos><pad>");
  expect(() => tok.decode([300])).toThrow("token id 300 is outside the byte vocabulary (size 259)");
});

test("the RNG is reproducible from a seed and from a saved state", () => {
  const a = new Rng(123);
  const b = new Rng(123);
  const xs = Array.from({ length: 5 }, () => a.uniform());
  expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xs);
  const resumed = new Rng(a.state());
  expect(resumed.nextUint32()).toBe(a.nextUint32());
  expect(new Rng(124).uniform()).not.toBe(xs[0]);
  expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
  expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 3, 2));
});

test("uniform draws look uniform and normals have mean 0 and variance 1", () => {
  const rng = new Rng(7);
  const n = 20000;
  const u = Array.from({ length: n }, () => rng.uniform());
  expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...u)).toBeLessThan(1);
  expect(u.reduce((s, x) => s + x, 0) / n).toBeCloseTo(0.5, 1);
  const z = Array.from({ length: n }, () => rng.normal());
  const mean = z.reduce((s, x) => s + x, 0) / n;
  const variance = z.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
  expect(Math.abs(mean)).toBeLessThan(0.03);
  expect(Math.abs(variance - 1)).toBeLessThan(0.05);
});
