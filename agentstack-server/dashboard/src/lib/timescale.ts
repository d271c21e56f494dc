// The waterfall's time axis: a linear scale from a trace's start to its end, "nice" tick steps
// (1, 2, 5 × 10^n nanoseconds) and short duration labels (850µs, 12.5ms, 3.2s, 4m 10s).

export interface TimeScale {
  startNanos: number;
  durationNanos: number;
  /** Fraction (0..1) of the width at `nanos`. */
  at(nanos: number): number;
  /** Fraction of the width a duration takes. */
  width(nanos: number): number;
}

export function timeScale(startNanos: number, endNanos: number): TimeScale {
  const durationNanos = Math.max(endNanos - startNanos, 1);
  return {
    startNanos,
    durationNanos,
    at: (nanos) => Math.min(1, Math.max(0, (nanos - startNanos) / durationNanos)),
    width: (nanos) => Math.min(1, Math.max(0, nanos / durationNanos)),
  };
}

/** A step of 1, 2 or 5 × 10^n that cuts `span` into at most `maxTicks` parts. */
export function niceStep(span: number, maxTicks: number): number {
  if (!(span > 0) || maxTicks < 1) return 1;
  const raw = span / maxTicks;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) {
    // toPrecision: 10^n in floating point is not exact (1e-3 * 1e9 = 999999.9999…).
    if (m * power >= raw) return Number((m * power).toPrecision(12));
  }
  return 10 * power;
}

/** Tick offsets (nanoseconds from the start) from 0 to `durationNanos` inclusive of 0. */
export function ticks(durationNanos: number, maxTicks = 6): number[] {
  if (!(durationNanos > 0)) return [0];
  const step = niceStep(durationNanos, maxTicks);
  const out: number[] = [];
  for (let i = 0; i * step <= durationNanos * (1 + 1e-9); i++) out.push(Number((i * step).toPrecision(12)));
  return out;
}

/** A short label of a duration in nanoseconds. */
export function formatNanos(nanos: number): string {
  if (!Number.isFinite(nanos)) return "–";
  const abs = Math.abs(nanos);
  if (abs === 0) return "0";
  // Thresholds a half-unit early, so 999,990ns reads 1ms and not 1000µs.
  if (abs < 999.5) return `${trim(nanos)}ns`;
  if (abs < 999_500) return `${trim(nanos / 1e3)}µs`;
  if (abs < 999_500_000) return `${trim(nanos / 1e6)}ms`;
  if (abs < 59.5e9) return `${trim(nanos / 1e9)}s`;
  const totalSeconds = Math.round(nanos / 1e9);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return h ? `${h}h ${m}m` : `${m}m ${s}s`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  return formatNanos(ms * 1e6);
}

function trim(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}
