import { describe, expect, test } from "bun:test";
import { compatibilityCases, expectedVerdict } from "./compatibility.cases.ts";
import { checkCompatibility, compatibilityLevels } from "./compatibility.ts";
import { parseSchema } from "./parse-schema.ts";
import { resolutionIssues } from "./resolution.ts";

const parsed = compatibilityCases.map((c) => ({
  ...c,
  candidateType: parseSchema(c.candidate, "candidate"),
  historyTypes: c.history.map((s, i) => ({ version: i + 1, type: parseSchema(s, `v${i + 1}`) })),
}));

describe("checkCompatibility: the matrix", () => {
  const rows = parsed.flatMap((c) => compatibilityLevels.map((level) => [c.name, level, expectedVerdict(c, level), c] as const));
  test.each(rows)("%s under %s → compatible: %p", (_name, level, compatible, c) => {
    const problems = checkCompatibility(c.candidateType, c.historyTypes, level);
    expect(problems.map((p) => p.message)).toEqual(compatible ? [] : expect.arrayContaining([expect.any(String)]));
  });

  test.each(parsed.filter((c) => c.message))("%s: the message names the field and the rule", (c) => {
    const level = !c.backward || c.backwardTransitive === false ? "BACKWARD_TRANSITIVE" : "FORWARD_TRANSITIVE";
    const problems = checkCompatibility(c.candidateType, c.historyTypes, level);
    expect(problems.map((p) => p.message).join("\n")).toContain(c.message!);
  });
});

describe("resolutionIssues agrees with avsc's resolver (what actually decodes)", () => {
  const pairs = parsed.flatMap((c) =>
    c.historyTypes.flatMap((old) => [
      [`${c.name}: new reads v${old.version}`, c.candidateType, old.type] as const,
      [`${c.name}: v${old.version} reads new`, old.type, c.candidateType] as const,
    ]),
  );
  test.each(pairs)("%s", (_label, reader, writer) => {
    let avscCanRead = true;
    try {
      reader.createResolver(writer, { ignoreNamespaces: true });
    } catch {
      avscCanRead = false;
    }
    expect(resolutionIssues(reader, writer).length === 0).toBe(avscCanRead);
  });
});

describe("resolutionIssues details", () => {
  const t = (s: object) => parseSchema(s, "test");
  test("a recursive record checks without looping", () => {
    const node = { type: "record", name: "Node", fields: [{ name: "next", type: ["null", "Node"] }] };
    expect(resolutionIssues(t(node), t(node))).toEqual([]);
  });

  test("a union branch the reader lacks is named", () => {
    expect(resolutionIssues(t(["null", "string"]), t(["null", "string", "long"]))).toEqual([
      { rule: "union-branch-unreadable", path: "union[null, string]", reader: "union[null, string]", writer: "long" },
    ]);
  });

  test("a branch present on both sides reports the inner problem", () => {
    const rec = (fields: object[]) => ({ type: "record", name: "R", fields });
    const issues = resolutionIssues(t(["null", rec([{ name: "a", type: "int" }])]), t(["null", rec([])]));
    expect(issues).toEqual([{ rule: "missing-default", path: "union[null, R].a", reader: "int", writer: "(absent)" }]);
  });

  test("namespaces are ignored: names match unqualified, as in Avro's spec", () => {
    const r = (ns: string) => ({ type: "record", name: "R", namespace: ns, fields: [] });
    expect(resolutionIssues(t(r("a")), t(r("b")))).toEqual([]);
  });
});
