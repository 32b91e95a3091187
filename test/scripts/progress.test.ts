/**
 * The long commands' progress bar, drawn into a fake terminal on a fake clock: the ETA follows
 * the pace of the recent steps, log lines land above the bar, and piped output gets no bar.
 */
import { Writable } from "node:stream";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { progressBar, terminalProgressBar } from "../../scripts/commands/progress.ts";

/** A stream that says it is a terminal and keeps what was written, escape codes stripped. */
function fakeTerminal(isTTY = true) {
  let text = "";
  const stream = new Writable({ write: (chunk, _enc, done) => ((text += String(chunk)), done()) });
  Object.assign(stream, { isTTY, columns: 160 });
  // eslint-disable-next-line no-control-regex
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text.replace(/\x1B(\[[0-9;?]*[A-Za-z]|[78])/g, "") };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
  vi.setSystemTime(new Date("2025-01-01T00:00:00Z"));
});
afterEach(() => vi.useRealTimers());

test("on a terminal the bar shows steps done, the live stats and an ETA from the recent pace", () => {
  const term = fakeTerminal();
  const bar = progressBar("train", term.stream);
  bar.update(1, 10, { loss: 2.5, reward: 0.25 });
  vi.advanceTimersByTime(2000);
  expect(term.text()).toContain("1/10 | reward 0.250 | loss 2.5000 | ETA …");
  bar.update(2, 10, { loss: 2.25, reward: 0.5 });
  vi.advanceTimersByTime(2000);
  // 1 step per 2 s, 8 steps left
  expect(term.text()).toContain("2/10 | reward 0.500 | loss 2.2500 | ETA 16s");
  bar.log("step 2 loss 2.25");
  bar.update(3, 10, { "pass@1": 0.125 });
  vi.advanceTimersByTime(200);
  // 2 steps in 4 s, 7 left
  expect(term.text()).toMatch(/step 2 loss 2\.25\n[^\n]*3\/10 \| pass@1 12\.5% \| ETA 14s/);
  bar.update(4, 10, {});
  // the clock jumps an hour (advancing timers through it would redraw the bar 36,000 times)
  vi.setSystemTime(Date.now() + 3600_000);
  bar.update(5, 10, {});
  vi.advanceTimersByTime(200);
  // 4 steps in 3604.2 s, 5 left: 75 min
  expect(term.text()).toContain("5/10 | ETA 1h15m");
  bar.stop();
});

test("a resumed run's ETA counts only the steps done in this process", () => {
  const term = fakeTerminal();
  const bar = progressBar("train", term.stream);
  bar.update(51, 100, {});
  vi.advanceTimersByTime(1000);
  bar.update(52, 100, {});
  vi.advanceTimersByTime(200);
  expect(term.text()).toContain("52/100 | ETA 48s");
  bar.stop();
});

test("the bar is made only when stdout and stderr are both terminals; piped output keeps plain lines", () => {
  expect(terminalProgressBar("eval", fakeTerminal(false).stream, fakeTerminal().stream)).toBeUndefined();
  expect(terminalProgressBar("eval", fakeTerminal().stream, fakeTerminal(false).stream)).toBeUndefined();
  const bar = terminalProgressBar("eval", fakeTerminal().stream, fakeTerminal().stream);
  expect(bar).toBeDefined();
  bar!.stop();
});
