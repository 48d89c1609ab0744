/**
 * What to do about a lane that wants records, has none and is short of its partition's end
 * (partition-lanes `waiting`). Pure: the lane consumer reads the client's state and acts on the answer.
 *
 * The client's fetch position says how far librdkafka read the partition for this member.
 *
 * At the end while the lane is not: either what lies between holds nothing for the application
 * (transaction markers, aborted records: a transactional producer upstream ends every partition it
 * wrote with a marker), or the client read those records for an earlier assignment of the partition
 * and went on from there instead of from the position it was given. Fetching once more from the
 * lane's offset tells the two apart: records arrive, or the client comes back to the end with
 * nothing, and the partition's offset moves past them. Without that the group showed a lag of one
 * on every partition a transactional producer wrote, forever; or the lane waited for good.
 *
 * Short of the end and idle for `starvedAfterMs`: the client stopped fetching it (a pause or an
 * assignment it lost track of): resume it and fetch from the lane's offset, with a warning.
 */
export type IdleLaneAction =
  /** Said as a warning: resume the partition and fetch it from the lane's offset. */
  | { action: "resume"; seekTo: string }
  /** The client is at the end: fetch once more from the lane's offset. */
  | { action: "refetch"; seekTo: string }
  /** Fetched once more and back at the end with nothing: the offsets below `to` hold no records. */
  | { action: "move-past"; to: string }
  /**
   * The log start moved past the lane's offset: retention took records the lane never got, and
   * none arrived since to show it (every one deleted). It goes on from `to`, the loss said.
   */
  | { action: "past-deleted"; to: string }
  | { action: "none" };

export interface IdleLane {
  nextOffset: string;
  /** The partition's end as the client last saw it, "unknown" when it never saw one. */
  highWatermark: string;
  /** The client's fetch position, "-1" when unknown. */
  fetchPosition: string;
  /** The partition's log start as the client last saw it, "-1" when unknown. */
  logStart?: string;
  idleMs: number;
  /** `refetchKey` of the last refetch for this partition, if any. */
  lastRefetch: string | undefined;
  /** Since the last resume for this partition (Infinity: never). */
  sinceResumeMs: number;
}

const isOffset = (s: string) => /^\d+$/.test(s);

export const refetchKey = (nextOffset: string, fetchPosition: string) => `${nextOffset}@${fetchPosition}`;

export function idleLaneAction(lane: IdleLane, starvedAfterMs: number): IdleLaneAction {
  // Seen as a starving lane before: resumed and sought back below the log start every 20 s, for ever.
  if (lane.logStart !== undefined && isOffset(lane.logStart) && BigInt(lane.logStart) > BigInt(lane.nextOffset)) {
    return { action: "past-deleted", to: lane.logStart };
  }
  const atEnd = isOffset(lane.highWatermark) && isOffset(lane.fetchPosition) && BigInt(lane.fetchPosition) >= BigInt(lane.highWatermark);
  if (atEnd) {
    if (lane.lastRefetch !== refetchKey(lane.nextOffset, lane.fetchPosition)) return { action: "refetch", seekTo: lane.nextOffset };
    return { action: "move-past", to: lane.fetchPosition };
  }
  if (lane.idleMs >= starvedAfterMs && lane.sinceResumeMs >= starvedAfterMs) return { action: "resume", seekTo: lane.nextOffset };
  return { action: "none" };
}

/**
 * The leader's stable end (what a read_committed consumer may read, `undefined` when it did not
 * answer) at or below the lane's offset: a producer's transaction upstream is open, and the lane
 * waits for its commit or abort. That is not starvation.
 */
export const heldByOpenTransaction = (stableEnd: string | undefined, nextOffset: string) =>
  stableEnd !== undefined && isOffset(stableEnd) && BigInt(stableEnd) <= BigInt(nextOffset);
