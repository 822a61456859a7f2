import { useState } from "react";
import { useNavigate } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { Device } from "../../api/types";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { Field, Input } from "../../components/ui/form";
import { Notice } from "../../components/ui/feedback";
import { Menu } from "../../components/ui/menu";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { errorMessage } from "../../api/client";
import { deviceActions, type DeviceAction } from "../../lib/deviceActions";
import { deviceName } from "../../lib/devices";

type Confirmable = Exclude<DeviceAction, "run" | "edit">;

interface Confirm {
  title: string;
  text: string;
  button: string;
  /** Red confirm button: the action stops work or removes something. */
  destructive: boolean;
  /** Asks for an optional reason, kept in the device's history. */
  reason?: boolean;
}

const LABELS: Record<DeviceAction, string> = {
  run: "Run script",
  edit: "Edit",
  reboot: "Reboot",
  maintenance: "Maintenance",
  end_maintenance: "End maintenance",
  quarantine: "Quarantine",
  release: "Release from quarantine",
  refresh_inventory: "Refresh inventory",
  decommission: "Decommission",
};

/**
 * What each action does, as the server does it: maintenance only marks the device (its
 * scripts and commands keep running, the offline sweep leaves its status alone);
 * quarantine cancels what waits for it and refuses new work until it is released.
 */
export function confirmText(action: Confirmable, d: Pick<Device, "status" | "token_suspended">): Confirm {
  switch (action) {
    case "reboot":
      return { title: "Reboot this device?", text: "The agent restarts the machine now. Anyone signed in to it loses unsaved work.", button: "Reboot", destructive: true };
    case "maintenance":
      return {
        title: "Put this device in maintenance?",
        text: "Its status reads Maintenance instead of Online or Offline until you end it. Nothing else changes: the agent keeps reporting, and scripts and commands still run on it. You can still quarantine it.",
        button: "Start maintenance",
        destructive: false,
        reason: true,
      };
    case "end_maintenance":
      return {
        title: "End maintenance?",
        text: "Its status shows Online or Offline again, from its last check-in. Scripts and commands ran during maintenance and keep running as before.",
        button: "End maintenance",
        destructive: false,
      };
    case "quarantine":
      return {
        title: "Quarantine this device?",
        text:
          "No script or command runs on it until you release it: commands waiting for it are cancelled and new ones are refused. The agent keeps reporting, so you still see its state." +
          (d.status === "maintenance" ? " It leaves maintenance; releasing it later returns it to service." : ""),
        button: "Quarantine",
        destructive: true,
        reason: true,
      };
    case "release":
      return {
        title: "Release this device from quarantine?",
        text:
          "Scripts and commands can run on it again. Commands the quarantine cancelled stay cancelled: queue them again if they are still needed." +
          (d.token_suspended ? " Its suspended agent token works again." : ""),
        button: "Release",
        destructive: false,
      };
    case "refresh_inventory":
      return { title: "Refresh the inventory now?", text: "The agent collects hardware, software, disks and network again and sends what changed.", button: "Refresh", destructive: false };
    case "decommission":
      return {
        title: "Decommission this device?",
        text: "The device is removed from Breeze and its agent token stops working. Install the agent again to bring it back.",
        button: "Decommission",
        destructive: true,
      };
  }
}

async function request(action: Confirmable, id: string, reason: string): Promise<void> {
  const body = reason.trim() ? { reason: reason.trim() } : {};
  const params = { path: { id } };
  switch (action) {
    case "decommission":
      await api.DELETE("/api/v1/devices/{id}", { params });
      return;
    case "reboot":
      await api.POST("/api/v1/devices/{id}/commands", { params, body: { type: "reboot", payload: {} } });
      return;
    case "refresh_inventory":
      await api.POST("/api/v1/devices/{id}/commands", { params, body: { type: "collect_inventory_now", payload: {} } });
      return;
    case "maintenance":
      await api.POST("/api/v1/devices/{id}/maintenance", { params, body });
      return;
    case "quarantine":
      await api.POST("/api/v1/devices/{id}/quarantine", { params, body });
      return;
    case "end_maintenance":
    case "release":
      await api.POST("/api/v1/devices/{id}/reactivate", { params, body });
  }
}

function done(action: Confirmable, name: string): string {
  switch (action) {
    case "decommission":
      return `${name} was decommissioned.`;
    case "reboot":
      return "Reboot queued.";
    case "refresh_inventory":
      return "Inventory refresh queued.";
    case "maintenance":
      return `${name} is now in maintenance.`;
    case "end_maintenance":
      return `${name}'s maintenance has ended.`;
    case "quarantine":
      return `${name} is now in quarantine.`;
    case "release":
      return `${name} is released from quarantine.`;
  }
}

/** The device page's action buttons, its overflow menu and their confirmations. */
export function DeviceActions({ d, onRun, onEdit }: { d: Device; onRun: () => void; onEdit: () => void }) {
  const perms = usePerms();
  const [confirm, setConfirm] = useState<Confirmable | null>(null);
  const { main, more } = deviceActions(d, (p) => perms.can(p));
  const pick = (a: DeviceAction) => (a === "run" ? onRun() : a === "edit" ? onEdit() : setConfirm(a));
  return (
    <>
      {main.map((a) => (
        <Button key={a} variant={a === "run" ? "primary" : "secondary"} onClick={() => pick(a)}>
          {LABELS[a]}
        </Button>
      ))}
      <Menu label="More actions" items={more.map((a) => ({ label: LABELS[a], danger: a === "decommission", onSelect: () => pick(a) }))}>
        More
      </Menu>
      {confirm && <ConfirmAction d={d} action={confirm} onClose={() => setConfirm(null)} />}
    </>
  );
}

function ConfirmAction({ d, action, onClose }: { d: Device; action: Confirmable; onClose: () => void }) {
  const qc = useQueryClient();
  const [reason, setReason] = useState("");
  const toast = useToast();
  const navigate = useNavigate();
  const m = useMutation({
    mutationFn: () => request(action, d.id, reason),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["devices"] });
      void qc.invalidateQueries({ queryKey: ["device", d.id] });
      void qc.invalidateQueries({ queryKey: ["device-commands", d.id] });
      void qc.invalidateQueries({ queryKey: ["device-events", d.id] });
      toast(done(action, deviceName(d)));
      onClose();
      if (action === "decommission") navigate("/devices");
    },
  });
  const c = confirmText(action, d);
  return (
    <Dialog
      open
      onClose={onClose}
      title={c.title}
      footer={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button variant={c.destructive ? "danger" : "primary"} loading={m.isPending} onClick={() => m.mutate()}>
            {c.button}
          </Button>
        </>
      }
    >
      <p className="text-sm">
        <strong>{deviceName(d)}</strong>: {c.text}
      </p>
      {c.reason && (
        <div className="mt-3">
          <Field label="Reason (optional, shown in the device's Activity)">{(p) => <Input {...p} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />}</Field>
        </div>
      )}
      {m.isError && (
        <div className="mt-3">
          <Notice tone="danger">{errorMessage(m.error)}</Notice>
        </div>
      )}
    </Dialog>
  );
}
