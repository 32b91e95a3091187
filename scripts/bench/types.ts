/** Options every benchmark suite receives from `rlvr bench`. */
export interface BenchOptions {
  /** Fewer repetitions and smaller inputs: a smoke run that finishes in seconds. */
  quick: boolean;
  /** tfjs backend name for model benchmarks (auto | wasm | cpu | node | node-gpu). */
  backend: string;
}
