import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../../api/instance";
import { Card } from "../../components/ui/card";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { Select } from "../../components/ui/form";
import { chartPoints, RANGES } from "../../lib/metrics";

export function MetricsTab({ id }: { id: string }) {
  const [range, setRange] = useState("24h");
  const r = RANGES.find((x) => x.id === range) ?? RANGES[1];
  const q = useQuery({
    queryKey: ["device", id, "metrics", range],
    queryFn: ({ signal }) => {
      const to = new Date();
      const from = new Date(to.getTime() - r.ms);
      return api.GET("/api/v1/devices/{id}/metrics", { params: { path: { id }, query: { from: from.toISOString(), to: to.toISOString(), resolution: r.resolution } }, signal });
    },
    refetchInterval: 60_000,
  });
  const data = chartPoints(q.data?.data ?? [], r.resolution);
  const fmt = (t: number) => (r.ms > 86_400_000 ? new Date(t).toLocaleDateString() : new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  return (
    <Card>
      <div className="mb-3 flex items-center justify-between gap-2">
        <h2 className="text-sm font-semibold">CPU, memory and disk (%)</h2>
        <Select aria-label="Time range" className="w-auto" value={range} onChange={(e) => setRange(e.target.value)}>
          {RANGES.map((x) => (
            <option key={x.id} value={x.id}>
              {x.label}
            </option>
          ))}
        </Select>
      </div>
      {q.isPending ? (
        <Loading />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} />
      ) : data.length === 0 ? (
        <EmptyState title="No metrics in this range">The agent reports metrics with every heartbeat.</EmptyState>
      ) : (
        <div className="h-72">
          <ResponsiveContainer>
            <LineChart data={data}>
              <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
              <XAxis dataKey="t" type="number" domain={["dataMin", "dataMax"]} tickFormatter={fmt} stroke="var(--muted-fg)" fontSize={12} />
              <YAxis domain={[0, 100]} stroke="var(--muted-fg)" fontSize={12} width={36} />
              <Tooltip labelFormatter={(t) => new Date(Number(t)).toLocaleString()} />
              <Legend />
              <Line type="monotone" dataKey="cpu_percent" name="CPU" stroke="var(--primary)" dot={false} isAnimationActive={false} />
              <Line type="monotone" dataKey="ram_percent" name="Memory" stroke="var(--warn)" dot={false} isAnimationActive={false} />
              <Line type="monotone" dataKey="disk_percent" name="Disk" stroke="var(--ok)" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}
