// How to put the agent on a machine: the one-line installer the server renders for a new
// enrollment key, and the manual steps (download, verify, enroll, run) beside it.
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/instance";
import { CopyField } from "./ui/copy";
import { Notice } from "./ui/feedback";
import { formatBytes } from "../lib/format";

export function useAgentDownloads() {
  return useQuery({
    queryKey: ["agent-downloads"],
    queryFn: ({ signal }) => api.GET("/download/agent", { signal }),
    staleTime: 60_000,
  });
}

export function InstallCommand({ installScriptCommand, enrollCommand }: { installScriptCommand: string; enrollCommand: string }) {
  const downloads = useAgentDownloads();
  const linux = downloads.data?.agents.filter((a) => a.os === "linux") ?? [];
  return (
    <section aria-label="Install the agent" className="space-y-3">
      <CopyField label="Install command" value={installScriptCommand} />
      <p className="text-sm text-muted-fg">
        Run it on the Linux machine to add. It downloads the agent from this server, checks its SHA-256, enrolls the machine and starts the{" "}
        <code>breeze-agent</code> systemd service. Add <code>--no-service</code> to run the agent in the foreground instead.
      </p>
      {downloads.isSuccess && linux.length === 0 && (
        <Notice tone="warn">
          This server has no Linux agent build to hand out yet: build it where the server runs with <code>cargo build --release -p breeze-agent</code>.
        </Notice>
      )}
      <details className="rounded-md border border-border px-3 py-2 text-sm">
        <summary className="cursor-pointer font-medium">Manual steps</summary>
        <ol className="mt-3 list-decimal space-y-3 pl-5">
          <li>
            <p>Download the agent for the machine’s platform:</p>
            {downloads.isPending ? (
              <p className="text-muted-fg">Looking for agent builds…</p>
            ) : downloads.isError ? (
              <p className="text-danger">Could not list the agent builds.</p>
            ) : (
              <ul aria-label="Agent downloads" className="mt-1 space-y-2">
                {downloads.data.agents.map((a) => (
                  <li key={a.platform}>
                    <a className="font-medium text-primary hover:underline" href={a.url} download={a.file_name}>
                      {a.platform}
                    </a>{" "}
                    <span className="text-xs text-muted-fg">({formatBytes(a.size)})</span>
                    <p className="break-all font-mono text-xs" aria-label={`SHA-256 of ${a.platform}`}>
                      SHA-256 {a.sha256}
                    </p>
                  </li>
                ))}
                {downloads.data.missing.length > 0 && <li className="text-xs text-muted-fg">Not built on this server: {downloads.data.missing.join(", ")}.</li>}
              </ul>
            )}
          </li>
          <li>
            Check it: <code>sha256sum breeze-agent-linux-x86_64</code> must print the SHA-256 above. Then <code>chmod +x</code> it and move it to{" "}
            <code>/usr/local/bin/breeze-agent</code>.
          </li>
          <li>
            <CopyField label="Enroll command" value={enrollCommand} />
          </li>
          <li>
            Start it: <code>sudo breeze-agent install</code> (systemd service), or <code>breeze-agent run</code> in the foreground. Until it runs, the device shows
            as “waiting for first check-in”.
          </li>
        </ol>
      </details>
    </section>
  );
}
