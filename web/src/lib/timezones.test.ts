import { describe, expect, it } from "vitest";
import { timeZones } from "./timezones";

describe("timeZones", () => {
  it("offers the browser's IANA zones, sorted, with UTC", () => {
    const fake = { supportedValuesOf: () => ["Europe/Paris", "America/New_York"] } as unknown as typeof Intl;
    expect(timeZones(null, fake)).toEqual(["America/New_York", "Europe/Paris", "UTC"]);
  });
  it("keeps a site's current zone even when the browser does not list it", () => {
    const fake = { supportedValuesOf: () => ["Europe/Paris"] } as unknown as typeof Intl;
    expect(timeZones("Etc/GMT+5", fake)).toContain("Etc/GMT+5");
  });
  it("works where Intl cannot list zones", () => {
    expect(timeZones(undefined, {} as typeof Intl)).toEqual(["UTC"]);
  });
});
