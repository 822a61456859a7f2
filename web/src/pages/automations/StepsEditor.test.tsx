import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { useState } from "react";
import type { Script } from "../../api/types";
import { newStep, stepsToJson, type EditStep, type StepErrors } from "../../lib/automations";
import { StepsEditor } from "./StepsEditor";

afterEach(cleanup);

const SCRIPTS = [
  { id: "s1", name: "Clean temp", parameters: [{ name: "days", type: "number", required: true }] },
  { id: "s2", name: "Echo" },
] as unknown as Script[];
const paramsOf = (id: string) => (id === "s1" ? [{ name: "days", type: "number", required: true, label: "Days" }] : []);

let last: EditStep[] = [];
function Harness({ errors = new Map() }: { errors?: StepErrors }) {
  const [steps, setSteps] = useState<EditStep[]>([newStep("run_script")]);
  last = steps;
  return <StepsEditor steps={steps} onChange={setSteps} choices={{ scripts: SCRIPTS, channels: [{ id: "c1", name: "Ops" }], automations: [], paramsOf, errors }} />;
}

const select = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } });
const json = () => stepsToJson(last, paramsOf);

describe("the steps editor", () => {
  it("builds a condition with steps in both branches, each with its own form", () => {
    render(<Harness />);
    select("Step 1 script", "s1");
    fireEvent.change(screen.getByLabelText("Days *"), { target: { value: "3" } });
    fireEvent.click(screen.getByRole("button", { name: "Add step" }));
    select("Step 2 type", "condition");
    fireEvent.change(screen.getByLabelText("Step 2 exit code"), { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Add step to Step 2 then" }));
    select("Step 2 → then → 1 type", "notify");
    fireEvent.click(within(screen.getByRole("listitem", { name: "Step 2 → then → 1" })).getByLabelText("Ops"));
    fireEvent.change(screen.getByLabelText("Step 2 → then → 1 message"), { target: { value: "done" } });
    fireEvent.click(screen.getByRole("button", { name: "Add step to Step 2 else" }));
    select("Step 2 → else → 1 type", "wait");
    fireEvent.change(screen.getByLabelText("Step 2 → else → 1 wait for"), { target: { value: "10" } });
    expect(json()).toEqual([
      { type: "run_script", script_id: "s1", parameters: { days: 3 } },
      { type: "condition", if: { exit_code: { eq: 0 } }, then: [{ type: "notify", channel_ids: ["c1"], message: "done" }], else: [{ type: "wait", seconds: 600 }] },
    ]);
  });

  it("moves a step within its list and removes one", () => {
    render(<Harness />);
    fireEvent.click(screen.getByRole("button", { name: "Add step" }));
    select("Step 2 type", "wait");
    const up = screen.getByRole("button", { name: "Move Step 1 up" }) as HTMLButtonElement;
    expect(up.disabled).toBe(true);
    expect((screen.getByRole("button", { name: "Move Step 2 down" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Move Step 2 up" }));
    expect(last.map((s) => s.type)).toEqual(["wait", "run_script"]);
    fireEvent.click(screen.getByRole("button", { name: "Remove Step 1" }));
    expect(last.map((s) => s.type)).toEqual(["run_script"]);
  });

  it("shows an error under the input its step path names", () => {
    render(<Harness errors={new Map([["0", { script_id: "No such script in this organization." }]])} />);
    const input = screen.getByLabelText("Step 1 script");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByRole("alert").textContent).toBe("No such script in this organization.");
  });
});
