/**
 * The long commands' terminal progress bar (train, pretrain, eval): done/total, the live loss,
 * reward or pass@1, and an ETA from the recent pace, with log lines printed above it. Only on a
 * terminal: piped, the commands keep their plain line per step.
 */
import cliProgress from "cli-progress";

export interface ProgressBar {
  /** Moves the bar to `done` of `total`, showing the record's reward, loss and pass@1 when present. */
  update(done: number, total: number, record: Record<string, number>): void;
  /** A line above the bar (a plain console.log would tear it). */
  log(line: string): void;
  stop(): void;
}

/**
 * A bar when stdout and stderr are both terminals, else undefined and the caller logs lines: the
 * bar and the lines logged through it go to stderr, so a piped stdout would lose those lines.
 */
export function terminalProgressBar(label: string, out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): ProgressBar | undefined {
  return out.isTTY && err.isTTY ? progressBar(label, err) : undefined;
}

/** Updates the ETA is measured over: long enough to smooth a slow eval step, short enough to follow a change of pace. */
const ETA_WINDOW = 10;

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  // a 24-cell bar keeps the line, ETA included, within an 80-column terminal (cli-progress cuts what overflows)
  const multi = new cliProgress.MultiBar(
    { format: `${label} {bar} {value}/{total} | {info}`, barsize: 24, hideCursor: true, clearOnComplete: false, stream },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  // our own estimate, not cli-progress's: its first update, made as the bar is created, reads "ETA 0s"
  const seen: [ms: number, done: number][] = [];
  return {
    update(done, total, record) {
      bar ??= multi.create(total, done, { info: "" });
      seen.push([Date.now(), done]);
      if (seen.length > ETA_WINDOW + 1) seen.shift();
      const info = [
        record.reward !== undefined ? `reward ${record.reward.toFixed(3)}` : "",
        record.loss !== undefined ? `loss ${record.loss.toFixed(4)}` : "",
        record["pass@1"] !== undefined ? `pass@1 ${(100 * record["pass@1"]).toFixed(1)}%` : "",
        `ETA ${eta(seen, total)}`,
      ].filter(Boolean).join(" | ");
      bar.setTotal(total);
      bar.update(done, { info });
    },
    log: (line) => multi.log(line + "\n"),
    stop: () => multi.stop(),
  };
}

/** Time left at the pace between the oldest and newest update seen; "…" until there is a pace. */
function eta(seen: [number, number][], total: number): string {
  const [t0, done0] = seen[0];
  const [t1, done1] = seen[seen.length - 1];
  if (done1 <= done0 || t1 <= t0) return "…";
  return formatSeconds(Math.ceil(((total - done1) * (t1 - t0)) / (done1 - done0) / 1000));
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
