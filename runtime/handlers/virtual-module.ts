import { plugin } from "bun";
import * as ferryModule from "./ferry-module.ts";
import * as drizzle from "drizzle-orm";
import * as pgCore from "drizzle-orm/pg-core";
import * as otel from "@opentelemetry/api";

let registered = false;

/**
 * Serves `ferry`, `ferry/drizzle`, `ferry/pg-core` and `ferry/otel` to handler files loaded from disk.
 * A module loaded by a compiled binary cannot import the packages bundled inside it, so the
 * binary hands out its own instances; handlers and runtime then share one drizzle.
 */
export function registerFerryModule(): void {
  if (registered) return;
  registered = true;
  plugin({
    name: "ferry-virtual-module",
    setup(build) {
      build.module("ferry", () => ({ exports: { ...ferryModule }, loader: "object" }));
      build.module("ferry/drizzle", () => ({ exports: { ...drizzle }, loader: "object" }));
      build.module("ferry/pg-core", () => ({ exports: { ...pgCore }, loader: "object" }));
      // The binary's OpenTelemetry API: inside handle(), trace.getActiveSpan() is the event's span.
      build.module("ferry/otel", () => ({ exports: { ...otel }, loader: "object" }));
    },
  });
}

let testingRegistered = false;

/**
 * Serves `ferry/testing` (and the modules above) to test files: `ferry test` preloads this into
 * `bun test`. Kept apart from `ferry`: a worker never loads the harness.
 */
export function registerFerryTestingModule(testing: Record<string, unknown>): void {
  registerFerryModule();
  if (testingRegistered) return;
  testingRegistered = true;
  plugin({
    name: "ferry-testing-module",
    setup(build) {
      build.module("ferry/testing", () => ({ exports: { ...testing }, loader: "object" }));
    },
  });
}
