import { describe, expect, it } from "vitest";
import {
  changeRuleType,
  countsView,
  describeRule,
  deviceRows,
  newRule,
  RULE_TYPES,
  RULES,
  ruleTarget,
  rulesFromJson,
  rulesToJson,
  validateRules,
  worstStatus,
  type EditRule,
} from "./policies";

const rule = (type: EditRule["type"], values: Record<string, string>): EditRule => ({ ...newRule(type), values });
const noKeys = (rs: EditRule[] | null) => rs?.map(({ type, values }) => ({ type, values }));

describe("policy rules JSON", () => {
  it("writes each type's fields, leaving out empty optional ones, and reads them back", () => {
    const rules = [
      rule("package_installed", { name: " openssh-server ", min_version: "" }),
      rule("package_installed", { name: "nginx", min_version: "1.24" }),
      rule("file_exists", { path: "/etc/motd", content: "Authorised use only\n", mode: "0644" }),
      rule("config_value", { path: "/etc/ssh/sshd_config", key: "PermitRootLogin", value: "no", separator: " " }),
      rule("sysctl", { key: "net.ipv4.ip_forward", value: "0" }),
      rule("firewall_enabled", { leftover: "x" }),
      rule("script", { script_id: "s1" }),
    ];
    const json = rulesToJson(rules);
    expect(json).toEqual([
      { type: "package_installed", name: "openssh-server" },
      { type: "package_installed", name: "nginx", min_version: "1.24" },
      { type: "file_exists", path: "/etc/motd", content: "Authorised use only\n", mode: "0644" },
      // A separator of one space is trimmed to nothing and so left out (the default "=" applies).
      { type: "config_value", path: "/etc/ssh/sshd_config", key: "PermitRootLogin", value: "no" },
      { type: "sysctl", key: "net.ipv4.ip_forward", value: "0" },
      { type: "firewall_enabled" },
      { type: "script", script_id: "s1" },
    ]);
    expect(noKeys(rulesFromJson(json))).toEqual([
      { type: "package_installed", values: { name: "openssh-server" } },
      { type: "package_installed", values: { name: "nginx", min_version: "1.24" } },
      { type: "file_exists", values: { path: "/etc/motd", content: "Authorised use only\n", mode: "0644" } },
      { type: "config_value", values: { path: "/etc/ssh/sshd_config", key: "PermitRootLogin", value: "no" } },
      { type: "sysctl", values: { key: "net.ipv4.ip_forward", value: "0" } },
      { type: "firewall_enabled", values: {} },
      { type: "script", values: { script_id: "s1" } },
    ]);
  });

  it("sends a required field even when empty so the server can name it", () => {
    expect(rulesToJson([rule("file_absent", {})])).toEqual([{ type: "file_absent", path: "" }]);
  });

  it("refuses rule types it does not know", () => {
    expect(rulesFromJson([{ type: "registry_value", key: "HKLM" }])).toBeNull();
    expect(rulesFromJson({})).toBeNull();
  });

  it("keeps the values the new type shares when the type changes", () => {
    const r = changeRuleType(rule("package_installed", { name: "nginx", min_version: "1.0" }), "package_absent");
    expect(r.values).toEqual({ name: "nginx" });
  });

  it("has fields for every rule type of the contract", () => {
    expect(RULE_TYPES.length).toBe(13);
    for (const t of RULE_TYPES) expect(RULES[t].label).toBeTruthy();
  });
});

describe("rule validation and server errors", () => {
  it("names the rule and field of each problem", () => {
    const e = validateRules([
      rule("package_installed", { name: "" }),
      rule("file_exists", { path: "/x", sha256: "abc", mode: "rw-r--r--" }),
      rule("config_value", { path: "/etc/x", key: "k" }),
      rule("script", {}),
      rule("firewall_enabled", {}),
    ]);
    expect(e.get(0)).toEqual({ name: "Enter the package." });
    expect(e.get(1)).toEqual({ sha256: "64 hexadecimal digits.", mode: "An octal mode such as 0644." });
    expect(e.get(2)).toEqual({ value: "Enter the value." });
    expect(e.get(3)).toEqual({ script_id: "Choose a script." });
    expect(e.has(4)).toBe(false);
    expect(validateRules([]).get(-1)).toEqual({ _: "Add at least one rule." });
  });

  it.each([
    ["rules[2].path", { row: 2, input: "path" }],
    ["rules.1.min_version", { row: 1, input: "min_version" }],
    ["rules[0]", { row: 0, input: "_" }],
    ["rules[3].type", { row: 3, input: "type" }],
    ["rules", { row: -1, input: "_" }],
  ])("places %s", (field, target) => {
    expect(ruleTarget(field)).toEqual(target);
  });

  it("leaves other fields alone", () => {
    expect(ruleTarget("remediation_script_id")).toBeNull();
    expect(ruleTarget("targets.group_ids[0]")).toBeNull();
  });
});

describe("rule summaries", () => {
  it.each([
    [{ type: "package_installed", name: "nginx", min_version: "1.24" }, "Package nginx installed ≥ 1.24"],
    [{ type: "package_absent", name: "telnetd" }, "Package telnetd absent"],
    [{ type: "file_exists", path: "/etc/motd", sha256: "ab", mode: "0644" }, "File /etc/motd exists (with hash, mode 0644)"],
    [{ type: "config_value", path: "/etc/ssh/sshd_config", key: "PermitRootLogin", value: "no" }, "/etc/ssh/sshd_config: PermitRootLogin=no"],
    [{ type: "service_running", name: "sshd" }, "Service sshd running"],
    [{ type: "disk_encryption" }, "Disk encryption on"],
    [undefined, "—"],
  ])("%j → %s", (json, text) => {
    expect(describeRule(json)).toBe(text);
  });
});

describe("compliance view models", () => {
  it("takes the worst status of a device's rules", () => {
    expect(worstStatus(["compliant", "unknown", "non_compliant"])).toBe("non_compliant");
    expect(worstStatus(["compliant", "error", "non_compliant"])).toBe("error");
    expect(worstStatus(["compliant", "compliant"])).toBe("compliant");
    expect(worstStatus([])).toBe("unknown");
  });

  it("turns counts into shares for the bar", () => {
    const v = countsView({ compliant: 2, non_compliant: 1, unknown: 1, error: 0, total: 4 });
    expect(v.percent).toBe(50);
    expect(v.segments).toEqual([
      { status: "compliant", count: 2, width: 50 },
      { status: "non_compliant", count: 1, width: 25 },
      { status: "unknown", count: 1, width: 25 },
    ]);
    expect(countsView({ compliant: 0, non_compliant: 0, unknown: 0, error: 0, total: 0 })).toEqual({ total: 0, percent: null, segments: [] });
    // Rounds down: 2 of 3 is 66 %, never "67 % compliant" when a third fails.
    expect(countsView({ compliant: 2, non_compliant: 1, unknown: 0, error: 0, total: 3 }).percent).toBe(66);
  });

  it("lists devices worst first with their failing rules described", () => {
    const rules = [{ type: "package_installed", name: "nginx" }, { type: "file_absent", path: "/etc/hosts.equiv" }, { type: "firewall_enabled" }];
    const rows = deviceRows(
      [
        { device_id: "a", hostname: "alpha", status: "compliant", rules: [0, 1, 2].map((i) => ({ rule_index: i, status: "compliant" })) },
        {
          device_id: "b",
          hostname: "bravo",
          status: "non_compliant",
          rules: [
            { rule_index: 0, status: "compliant" },
            { rule_index: 1, status: "unknown", detail: "not checked yet" },
            { rule_index: 2, status: "non_compliant", detail: "ufw inactive" },
          ],
        },
        { device_id: "c", hostname: "charlie", status: "error", rules: [{ rule_index: 0, status: "error", detail: "dpkg status unreadable" }] },
        { device_id: "d", hostname: "delta", status: "non_compliant", rules: [{ rule_index: 0, status: "non_compliant", detail: "not installed" }] },
      ],
      rules,
    );
    expect(rows.map((r) => r.hostname)).toEqual(["charlie", "bravo", "delta", "alpha"]);
    expect(rows[1].failing.map((f) => [f.rule, f.status, f.detail])).toEqual([
      ["Firewall enabled", "non_compliant", "ufw inactive"],
      ["File /etc/hosts.equiv absent", "unknown", "not checked yet"],
    ]);
    expect(rows[3].failing).toEqual([]);
  });
});
