/**
 * What to do about a lane that wants records, has none and got nothing for a while (partition-lanes
 * `starving`). Pure: the lane consumer reads the client's state and acts on the answer.
 *
 * The client's fetch position says how far librdkafka read the partition for this member. Short of
 * the end: it stopped fetching (a pause or an assignment it lost track of): resume it and fetch again
 * from the lane's offset. At the end while the lane is not: either what lies between was never meant
 * for the application (transaction markers, aborted records), or the client read those records for
 * an earlier assignment of the partition and went on from there instead of from the position it
 * was given: the lane would wait for them forever, its partition stalled without a word. Fetching
 * once more from the lane's offset tells the two apart at the cost of one fetch: markers give nothing
 * again, records arrive.
 */
export type StarvationRemedy =
  /** Said as a warning: resume the partition and fetch it from the lane's offset. */
  | { action: "resume"; seekTo: string }
  /** Said quietly: the client is at the end; fetch once more from the lane's offset. */
  | { action: "refetch"; seekTo: string }
  /** Already refetched from this offset against this end: nothing new to try. */
  | { action: "none" };

export interface StarvingLane {
  /** The lane's next offset. */
  nextOffset: string;
  /** The partition's end as the client last saw it, "unknown" when it never saw one. */
  highWatermark: string;
  /** The client's fetch position, "-1" when unknown. */
  fetchPosition: string;
  /** `${nextOffset}@${highWatermark}` of the last refetch for this partition, if any. */
  lastRefetch: string | undefined;
}

const isOffset = (s: string) => /^\d+$/.test(s);

export function starvationRemedy(lane: StarvingLane): StarvationRemedy {
  const seekTo = lane.nextOffset;
  const atEnd = isOffset(lane.highWatermark) && isOffset(lane.fetchPosition) && BigInt(lane.fetchPosition) >= BigInt(lane.highWatermark);
  if (!atEnd) return { action: "resume", seekTo };
  if (lane.lastRefetch === refetchKey(lane)) return { action: "none" };
  return { action: "refetch", seekTo };
}

export const refetchKey = (lane: Pick<StarvingLane, "nextOffset" | "highWatermark">) => `${lane.nextOffset}@${lane.highWatermark}`;
