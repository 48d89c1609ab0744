/**
 * Topics Kafka refuses whatever is sent to them (missing, not writable): the relay holds their
 * rows back, all of them so their order holds, while the other topics' rows go on. After a
 * backoff a held topic is due: its oldest rows go out once more, in one send (a probe), and no
 * more of its rows are read until that send settled. Pure state over a clock the caller passes.
 */
import { waitDelay } from "../failure/policy.ts";

export interface TopicHold {
  topic: string;
  /** Refusals in a row. */
  outages: number;
  /** When its rows may be tried again (epoch ms). */
  dueAt: number;
  /** Its probe is under way: no more of its rows are read until it settled. */
  probing: boolean;
  /** Kafka's error code of the last refusal. */
  code: string;
  since: number;
}

export interface TopicHolds {
  /** Topics whose rows are not read now: held and not due, or being probed. */
  excluded(now: number): string[];
  /** How long until the next held topic is due, if any (an idle relay wakes for it). */
  nextDueInMs(now: number): number | undefined;
  /** These rows are about to be sent: a due held topic among them is being probed. */
  sending(topics: Iterable<string>): void;
  /** Kafka refused the topic (again): held, with a longer backoff. */
  refused(topic: string, code: string, now: number): TopicHold;
  /** Kafka took rows of the topic: no longer held. Returns the hold it ended, if any. */
  accepted(topic: string): TopicHold | undefined;
  /**
   * A read that was not full, with `excluded` left out, found no rows of the other held topics:
   * nothing of theirs is left to send (an operator deleted them), so they are held no more.
   */
  emptied(excluded: readonly string[], read: ReadonlySet<string>): void;
  /** Nothing is in flight: a probe that failed otherwise (the broker, the database) is due again, its outages unchanged. */
  drained(): void;
  list(): TopicHold[];
}

export function createTopicHolds(): TopicHolds {
  const holds = new Map<string, TopicHold>();
  return {
    excluded: (now) => [...holds.values()].filter((h) => h.probing || h.dueAt > now).map((h) => h.topic),
    nextDueInMs(now) {
      const waiting = [...holds.values()].filter((h) => !h.probing).map((h) => Math.max(0, h.dueAt - now));
      return waiting.length === 0 ? undefined : Math.min(...waiting);
    },
    sending(topics) {
      for (const topic of topics) {
        const hold = holds.get(topic);
        if (hold) hold.probing = true;
      }
    },
    refused(topic, code, now) {
      const previous = holds.get(topic);
      const outages = (previous?.outages ?? 0) + 1;
      const hold = { topic, outages, dueAt: now + waitDelay(outages), probing: false, code, since: previous?.since ?? now };
      holds.set(topic, hold);
      return hold;
    },
    accepted(topic) {
      const hold = holds.get(topic);
      holds.delete(topic);
      return hold;
    },
    emptied(excluded, read) {
      for (const topic of holds.keys()) if (!excluded.includes(topic) && !read.has(topic)) holds.delete(topic);
    },
    drained() {
      for (const hold of holds.values()) hold.probing = false;
    },
    list: () => [...holds.values()],
  };
}
