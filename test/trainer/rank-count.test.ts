import os from "node:os";
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "../../trainer/backend.ts";
import { AUTO_MAX_RANKS, ParallelConfig, rankCount } from "../../trainer/parallel/workers.ts";
import { sftRanks } from "../../trainer/sft.ts";

beforeAll(async () => {
  await initBackend("wasm");
});

test("workers: 0 (the default) is one rank per core on wasm, at most AUTO_MAX_RANKS; a number is taken as set", () => {
  expect(ParallelConfig.workers.parse(undefined)).toBe(0);
  const cores = Math.min(os.availableParallelism(), AUTO_MAX_RANKS);
  expect(rankCount(0)).toBe(cores);
  expect(rankCount(3)).toBe(3);
  expect(rankCount(1)).toBe(1);
  // never more ranks than micro-batches to deal out
  expect(rankCount(0, 1)).toBe(1);
  expect(rankCount(0, 64)).toBe(cores);
});

test("pretraining with workers: 0 uses one rank when the batch is one micro-batch, and shares micro-batches otherwise", () => {
  expect(sftRanks({ workers: 0, batch_size: 32, micro_batch_size: 0 })).toBe(1);
  expect(sftRanks({ workers: 0, batch_size: 32, micro_batch_size: 16 })).toBe(Math.min(2, os.availableParallelism()));
  expect(sftRanks({ workers: 2, batch_size: 32, micro_batch_size: 16 })).toBe(2);
});
