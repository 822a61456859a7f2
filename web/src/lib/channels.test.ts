import { describe, expect, it } from "vitest";
import { buildChannelConfig, channelSummary, configToForm, EMPTY_CHANNEL_FORM, parseHeaders, type ChannelForm } from "./channels";

const form = (over: Partial<ChannelForm>): ChannelForm => ({ ...EMPTY_CHANNEL_FORM, name: "n", org_id: "o", ...over });

describe("channel config", () => {
  it("builds each type's config", () => {
    expect(buildChannelConfig(form({ type: "email", to: "a@b.c, d@e.f\n" }), false)).toEqual({ config: { to: ["a@b.c", "d@e.f"] }, errors: {} });
    expect(buildChannelConfig(form({ type: "webhook", url: "http://127.0.0.1:9/hook", headers: "X-Team: ops\n\nX-Env: e2e" }), false)).toEqual({
      config: { url: "http://127.0.0.1:9/hook", headers: { "X-Team": "ops", "X-Env": "e2e" } },
      errors: {},
    });
    expect(buildChannelConfig(form({ type: "pagerduty", routing_key: " abc " }), false).config).toEqual({ routing_key: "abc" });
    expect(buildChannelConfig(form({ type: "sms", url: "https://sms.example/send", to: "+441234", token: "t" }), false).config).toEqual({ url: "https://sms.example/send", to: ["+441234"], token: "t" });
  });

  it("names what is missing or malformed", () => {
    expect(buildChannelConfig(form({ type: "email", to: "" }), false).errors.to).toBeTruthy();
    expect(buildChannelConfig(form({ type: "email", to: "nobody" }), false).errors.to).toContain("nobody");
    expect(buildChannelConfig(form({ type: "webhook", url: "file:///etc/passwd" }), false).errors.url).toBeTruthy();
    expect(buildChannelConfig(form({ type: "webhook", url: "https://x", headers: "no colon" }), false).errors.headers).toBe("Line 1: write it as Name: value.");
    expect(buildChannelConfig(form({ type: "pagerduty" }), false).errors.routing_key).toBeTruthy();
  });

  it("keeps stored credentials when editing leaves them empty", () => {
    expect(buildChannelConfig(form({ type: "pagerduty" }), true)).toEqual({ config: {}, errors: {} });
    expect(buildChannelConfig(form({ type: "slack" }), true)).toEqual({ config: {}, errors: {} });
    expect(buildChannelConfig(form({ type: "webhook" }), true).errors.url).toBeTruthy();
  });

  it("reads a stored config back into the form", () => {
    expect(configToForm({ url: "https://h/x", headers: { A: "1" } })).toMatchObject({ url: "https://h/x", headers: "A: 1" });
    expect(configToForm({ to: ["a@b.c", "d@e.f"] }).to).toBe("a@b.c\nd@e.f");
    expect(parseHeaders("A: b: c").headers).toEqual({ A: "b: c" });
  });

  it("summarises where a channel sends", () => {
    expect(channelSummary("webhook", { url: "https://hooks.example.com/x?y" })).toBe("hooks.example.com");
    expect(channelSummary("email", { to: ["a@b.c"] })).toBe("a@b.c");
    expect(channelSummary("pagerduty", {})).toBe("PagerDuty Events API v2");
  });
});
