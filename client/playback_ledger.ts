/**
 * The player's bookkeeping, apart from any AudioContext: where each assistant audio chunk is scheduled
 * on the context's clock (back to back, so playback is gapless), how much of each item has been
 * received, and how much of it has actually been played at a given time. Barge-in truncates the item
 * at what was played, never more than what was received.
 *
 * @module
 */

/** How much of one item was played and received when playback stopped. */
export interface PlayedItem {
  itemId: string;
  /** Milliseconds played (clock time past each chunk's start, up to its length). */
  playedMs: number;
  /** Milliseconds of audio received for the item. */
  receivedMs: number;
}

/**
 * The `audio_end_ms` of a barge-in's `conversation.item.truncate`: whole milliseconds heard, never more
 * than were received (the API refuses that with `invalid_value`), never negative.
 */
export function truncationPoint(item: PlayedItem): number {
  return Math.max(0, Math.min(Math.floor(item.playedMs), Math.floor(item.receivedMs)));
}

interface Segment {
  start: number;
  duration: number;
}

interface ItemLedger {
  receivedSeconds: number;
  /** Audio of segments that finished playing (pruned from `segments`). */
  settledSeconds: number;
  segments: Segment[];
}

/** Items remembered after they finished playing (older ones are forgotten). */
const rememberedItems = 16;

/** Gapless scheduling and played-time accounting, in seconds of the AudioContext clock. */
export class PlaybackLedger {
  private readonly items = new Map<string, ItemLedger>();
  private nextStart = 0;
  /** Times playback ran dry while an item was still arriving (a gap was heard). */
  underruns = 0;

  /** `leadSeconds`: how far ahead of the clock the first chunk after silence is scheduled (jitter room). */
  constructor(private readonly leadSeconds: number) {}

  /**
   * Records `durationSeconds` of `itemId` arriving at clock time `now`; returns when it must start:
   * right after the previous chunk while playback is running, else `now` plus the lead.
   */
  schedule(itemId: string, durationSeconds: number, now: number): number {
    const item = this.itemFor(itemId);
    this.settle(now);
    let start = this.nextStart;
    if (start <= now) {
      if (item.segments.length > 0 || item.settledSeconds > 0) this.underruns++;
      start = now + this.leadSeconds;
    }
    item.receivedSeconds += durationSeconds;
    item.segments.push({ start, duration: durationSeconds });
    this.nextStart = start + durationSeconds;
    return start;
  }

  /** Milliseconds of `itemId` played by clock time `at`. */
  playedMs(itemId: string, at: number): number {
    const item = this.items.get(itemId);
    if (!item) return 0;
    let seconds = item.settledSeconds;
    for (const segment of item.segments) {
      seconds += Math.min(Math.max(at - segment.start, 0), segment.duration);
    }
    return Math.round(seconds * 1e6) / 1000;
  }

  /** Milliseconds of `itemId` received (to the microsecond: sums of chunk lengths drift in binary). */
  receivedMs(itemId: string): number {
    return Math.round((this.items.get(itemId)?.receivedSeconds ?? 0) * 1e6) / 1000;
  }

  /** True while scheduled audio has not finished playing at `at`. */
  isPlaying(at: number): boolean {
    return this.nextStart > at;
  }

  /** Clock time at which everything scheduled so far has played. */
  get endsAt(): number {
    return this.nextStart;
  }

  /**
   * Playback stopped at `at` (barge-in or disconnect): reports each item that still had audio to play,
   * then forgets the schedule so the next chunk starts fresh.
   */
  stop(at: number): PlayedItem[] {
    const cut: PlayedItem[] = [];
    for (const [itemId, item] of this.items) {
      const unplayed = item.segments.some((segment) => segment.start + segment.duration > at);
      if (unplayed) {
        cut.push({ itemId, playedMs: this.playedMs(itemId, at), receivedMs: this.receivedMs(itemId) });
      }
    }
    for (const { itemId } of cut) this.items.delete(itemId);
    this.nextStart = 0;
    return cut;
  }

  private itemFor(itemId: string): ItemLedger {
    let item = this.items.get(itemId);
    if (!item) {
      item = { receivedSeconds: 0, settledSeconds: 0, segments: [] };
      this.items.set(itemId, item);
      while (this.items.size > rememberedItems) this.items.delete(this.items.keys().next().value!);
    }
    return item;
  }

  /** Folds segments that finished before `now` into their item's settled total (bounded memory). */
  private settle(now: number): void {
    for (const item of this.items.values()) {
      while (item.segments.length > 0 && item.segments[0].start + item.segments[0].duration <= now) {
        item.settledSeconds += item.segments.shift()!.duration;
      }
    }
  }
}
