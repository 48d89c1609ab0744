import { expect, test } from "bun:test";
import { createFatalCheck } from "./fatal-check.ts";

const fatalError = Object.assign(new Error("Local: Fatal error"), { code: -150 });
const usualAnswer = Object.assign(new Error("Local: No offset stored"), { code: -168 });

function checkAnswering(answers: Error[]) {
  let asked = 0;
  const check = createFatalCheck({
    intervalMs: 1_000,
    ask() {
      const answer = answers[Math.min(asked++, answers.length - 1)];
      if (answer) throw answer;
    },
    isFatal: (e) => (e as { code?: number }).code === -150,
  });
  return { check, asked: () => asked };
}

test("asks at once, then at most once per interval", () => {
  const { check, asked } = checkAnswering([usualAnswer]);
  expect(check.check(0)).toBeUndefined();
  expect(check.check(999)).toBeUndefined();
  expect(asked()).toBe(1);
  expect(check.check(1_000)).toBeUndefined();
  expect(asked()).toBe(2);
});

test("a fatal answer is kept and returned for good, without asking again", () => {
  const { check, asked } = checkAnswering([usualAnswer, fatalError]);
  expect(check.check(0)).toBeUndefined();
  expect(check.check(1_000)).toBe(fatalError);
  expect(check.check(1_001)).toBe(fatalError);
  expect(check.check(60_000)).toBe(fatalError);
  expect(asked()).toBe(2);
});

test.each([
  ["the usual refusal", usualAnswer],
  ["no error at all", undefined],
])("%s is not fatal", (_, answer) => {
  const { check } = checkAnswering(answer ? [answer] : []);
  expect(check.check(0)).toBeUndefined();
});
