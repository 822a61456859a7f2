import { describe, expect, it } from "vitest";
import { cn } from "./cn";

describe("cn", () => {
  it("joins what is given and skips empty parts", () => {
    expect(cn("a", false, null, undefined, "b c")).toBe("a b c");
  });
  it("lets a later width or height replace an earlier one", () => {
    expect(cn("block w-full h-9 rounded", "w-auto")).toBe("block h-9 rounded w-auto");
    expect(cn("h-9", "h-10")).toBe("h-10");
    expect(cn("max-w-sm", "max-w-48")).toBe("max-w-48");
  });
  it("keeps different kinds and variants apart", () => {
    expect(cn("w-full max-w-sm min-w-0", "sm:w-64")).toBe("w-full max-w-sm min-w-0 sm:w-64");
  });
});
