// The device metrics chart: the ranges the console offers, each at a resolution the server
// has (`MetricsResolution` from the OpenAPI document), and breaks in the lines only where
// data is missing.
import type { MetricPoint, MetricsResolution } from "../api/types";

export interface MetricsRange {
  id: string;
  label: string;
  ms: number;
  resolution: MetricsResolution;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Raw samples are kept 48 h, 5-minute rollups 30 days and hourly ones a year (server defaults). */
export const RANGES: MetricsRange[] = [
  { id: "1h", label: "Last hour", ms: HOUR, resolution: "raw" },
  { id: "24h", label: "Last 24 hours", ms: DAY, resolution: "5m" },
  { id: "7d", label: "Last 7 days", ms: 7 * DAY, resolution: "1h" },
  { id: "30d", label: "Last 30 days", ms: 30 * DAY, resolution: "1h" },
];

const STEP_MS: Record<MetricsResolution, number | null> = { raw: null, "5m": 5 * 60_000, "1h": HOUR };

export type ChartPoint = Omit<Partial<MetricPoint>, "cpu_percent" | "ram_percent" | "disk_percent"> & {
  t: number;
  cpu_percent: number | null;
  ram_percent: number | null;
  disk_percent: number | null;
};

/**
 * Points for the chart, oldest first. Where two neighbours are further apart than 2.5 steps
 * (the resolution's step; for raw samples the usual spacing of the data, i.e. the heartbeat
 * interval) a point without values goes between them, so the line breaks there and nowhere else.
 */
export function chartPoints(points: MetricPoint[], resolution: MetricsResolution): ChartPoint[] {
  const sorted = points.map((p) => ({ ...p, t: new Date(p.timestamp).getTime() })).sort((a, b) => a.t - b.t);
  const gaps = sorted.slice(1).map((p, i) => p.t - sorted[i].t);
  const step = STEP_MS[resolution] ?? median(gaps);
  const out: ChartPoint[] = [];
  sorted.forEach((p, i) => {
    if (i > 0 && step && gaps[i - 1] > 2.5 * step) {
      out.push({ t: (sorted[i - 1].t + p.t) / 2, cpu_percent: null, ram_percent: null, disk_percent: null });
    }
    out.push(p);
  });
  return out;
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
