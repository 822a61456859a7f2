import { describe, expect, it } from "vitest";
import type { MetricPoint } from "../api/types";
import { chartPoints, RANGES } from "./metrics";

const at = (iso: string, cpu = 10): MetricPoint => ({
  timestamp: iso,
  cpu_percent: cpu,
  ram_percent: 20,
  ram_used_mb: 100,
  disk_percent: 30,
  disk_used_gb: 5,
  network_in_bytes: 0,
  network_out_bytes: 0,
  process_count: 90,
  samples: 5,
});

describe("metrics ranges", () => {
  it("ask only for resolutions the server has", () => {
    // The server's MetricsResolution enum (the type checks it too).
    expect(new Set(RANGES.map((r) => r.resolution))).toEqual(new Set(["raw", "5m", "1h"]));
  });
});

describe("chartPoints", () => {
  it("connects consecutive 5-minute points and breaks the line only across missing buckets", () => {
    const pts = chartPoints(
      [at("2026-01-01T10:00:00Z"), at("2026-01-01T10:05:00Z"), at("2026-01-01T10:10:00Z"), at("2026-01-01T11:00:00Z"), at("2026-01-01T11:05:00Z")],
      "5m",
    );
    expect(pts.map((p) => p.cpu_percent)).toEqual([10, 10, 10, null, 10, 10]);
    expect(pts[3].t).toBe((Date.parse("2026-01-01T10:10:00Z") + Date.parse("2026-01-01T11:00:00Z")) / 2);
  });

  it("takes the spacing of raw samples from the data and sorts them", () => {
    const minute = (m: number) => at(`2026-01-01T10:${String(m).padStart(2, "0")}:00Z`, m);
    const pts = chartPoints([minute(3), minute(1), minute(2), minute(4), minute(20), minute(21)], "raw");
    expect(pts.map((p) => p.cpu_percent)).toEqual([1, 2, 3, 4, null, 20, 21]);
  });

  it("leaves a complete series alone", () => {
    const pts = chartPoints([at("2026-01-01T10:00:00Z"), at("2026-01-01T11:00:00Z"), at("2026-01-01T12:00:00Z")], "1h");
    expect(pts.every((p) => p.cpu_percent !== null)).toBe(true);
  });
});
