/**
 * Group-relative advantages (GRPO): each completion's reward compared with the other completions of
 * its prompt, A_i = (r_i − mean_group(r)) / (std(r) + eps), plus TRL's reward statistics and DAPO's
 * dynamic-sampling filter. Plain typed arrays in and out; no tensors. Rewards arrive grouped: the
 * G completions of prompt p sit at [p·G, (p+1)·G). Completions whose verifiers all returned null
 * (`allNull`) carry no information: advantage 0, and they take no part in any mean or std here.
 */

/** How the centred reward is scaled: TRL's `scale_rewards` (none = Dr. GRPO: no division). */
export type RewardScale = "group" | "batch" | "none";

export interface AdvantageOptions {
  /** Divide by the group's std (default), the whole batch's std, or nothing. */
  scale?: RewardScale;
  /** Added to the std before dividing (TRL: 1e-4), so a zero-std group gives 0, not NaN. */
  eps?: number;
  /** allNull[i]: every verifier returned null for completion i → advantage 0, left out of the stats. */
  allNull?: ArrayLike<boolean>;
}

/** A group whose std is at most this counts as flat (TRL: torch.isclose(std, 0), atol 1e-8). */
const ZERO_STD = 1e-8;

/** Mean and Bessel-corrected std of the values at `idx`; std 0 below two values, both 0 for none. */
function meanStd(r: ArrayLike<number>, idx: number[]): { mean: number; std: number } {
  const n = idx.length;
  if (n === 0) return { mean: 0, std: 0 };
  let sum = 0;
  for (const i of idx) sum += r[i];
  const mean = sum / n;
  if (n < 2) return { mean, std: 0 };
  let ss = 0;
  for (const i of idx) ss += (r[i] - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/** Indices of the counted (not all-null) completions of each group: [groups][≤ G]. */
function groupMembers(n: number, G: number, allNull?: ArrayLike<boolean>): number[][] {
  if (!Number.isInteger(G) || G < 1) throw new Error(`group size G must be a positive integer, got ${G}`);
  if (n % G !== 0) throw new Error(`${n} rewards do not split into groups of G = ${G}: pass whole groups`);
  if (allNull && allNull.length !== n) throw new Error(`allNull has ${allNull.length} flags for ${n} rewards`);
  const groups: number[][] = [];
  for (let start = 0; start < n; start += G) {
    const members: number[] = [];
    for (let i = start; i < start + G; i++) if (!allNull?.[i]) members.push(i);
    groups.push(members);
  }
  return groups;
}

/** Advantage per completion [B = groups·G], float32, grouped as the rewards are. */
export function groupAdvantages(rewards: Float32Array, G: number, opts: AdvantageOptions = {}): Float32Array {
  const { scale = "group", eps = 1e-4, allNull } = opts;
  const groups = groupMembers(rewards.length, G, allNull);
  const batchStd = scale === "batch" ? meanStd(rewards, groups.flat()).std : 0;
  const adv = new Float32Array(rewards.length); // all-null completions stay 0
  for (const members of groups) {
    const { mean, std } = meanStd(rewards, members);
    const denom = scale === "group" ? std + eps : scale === "batch" ? batchStd + eps : 1;
    for (const i of members) adv[i] = (rewards[i] - mean) / denom;
  }
  return adv;
}

/** TRL's reward metrics of one batch. */
export interface GroupStats {
  /** Share of groups whose (counted) rewards have std 0: groups that teach nothing. */
  frac_reward_zero_std: number;
  /** Mean reward over the counted completions. */
  reward: number;
  /** Mean over groups of the group's Bessel-corrected std. */
  reward_std: number;
}

/**
 * `reward`, `reward_std` and `frac_reward_zero_std` as TRL defines them. reward_std is always the
 * group std (TRL logs the batch std under scale_rewards = batch; the group one is what says whether
 * groups carry signal). A group with fewer than two counted completions has std 0.
 */
export function groupStats(rewards: Float32Array, G: number, allNull?: ArrayLike<boolean>): GroupStats {
  const groups = groupMembers(rewards.length, G, allNull);
  let zero = 0;
  let stdSum = 0;
  for (const members of groups) {
    const { std } = meanStd(rewards, members);
    if (std <= ZERO_STD) zero++;
    stdSum += std;
  }
  return {
    frac_reward_zero_std: groups.length ? zero / groups.length : 0,
    reward: meanStd(rewards, groups.flat()).mean,
    reward_std: groups.length ? stdSum / groups.length : 0,
  };
}

/**
 * DAPO dynamic sampling: the groups worth training on are those whose rewards are not all equal
 * (std above 1e-8, the same test as frac_reward_zero_std). Returns their group indices, ascending,
 * and how many groups were dropped; the trainer samples more prompts until the batch is full.
 */
export function dynamicSamplingFilter(rewards: Float32Array, G: number, allNull?: ArrayLike<boolean>): { keep: number[]; dropped: number } {
  const groups = groupMembers(rewards.length, G, allNull);
  const keep: number[] = [];
  groups.forEach((members, g) => {
    if (meanStd(rewards, members).std > ZERO_STD) keep.push(g);
  });
  return { keep, dropped: groups.length - keep.length };
}
