import { describe, expect, test } from "bun:test";
import { createFaultInjector, faultSpecPattern, parseFaultSpec, type FaultPoint } from "./inject.ts";

describe("fault injection", () => {
  test.each([
    ["handler@3", true],
    ["db-committed@1,dead-letter-acked@12", true],
    ["handler@0", false],
    ["handler", false],
    ["nowhere@2", false],
    ["handler@2,", false],
  ])("%s is a valid spec: %p", (spec, valid) => {
    expect(faultSpecPattern.test(spec)).toBe(valid);
  });

  test("kills at the n-th hit of an armed point only, once", () => {
    const kills: string[] = [];
    let last: FaultPoint | undefined;
    const inject = createFaultInjector(parseFaultSpec("handler@3,db-committed@1"), { kill: () => kills.push(last!), say: () => undefined });
    const hit = (p: FaultPoint) => {
      last = p;
      inject(p);
    };
    hit("handler");
    hit("dead-letter-acked");
    hit("handler");
    expect(kills).toEqual([]);
    hit("db-committed");
    hit("handler");
    hit("handler");
    expect(kills).toEqual(["db-committed", "handler"]);
  });
});
