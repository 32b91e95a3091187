/** The training commands' terminal progress bar: ETA and the live loss (and reward), log lines above it. */
import cliProgress from "cli-progress";

export function progressBar(label: string) {
  const multi = new cliProgress.MultiBar(
    { format: `${label} {bar} {value}/{total} | {stats} | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(step: number, total: number, record: Record<string, number>) {
      bar ??= multi.create(total, step - 1, { stats: "" });
      const stats = [
        record.reward !== undefined ? `reward ${record.reward.toFixed(3)}` : "",
        record.loss !== undefined ? `loss ${record.loss.toFixed(4)}` : "",
      ].filter(Boolean).join(" | ");
      bar.update(step, { stats });
    },
    log: (line: string) => multi.log(line + "\n"),
    stop: () => multi.stop(),
  };
}
