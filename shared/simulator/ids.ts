/**
 * Identifiers in the OpenAI Realtime API's style (`event_…`, `item_…`, `resp_…`, `sess_…`, `conv_…`).
 *
 * @module
 */

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `length` random base62 characters (Web Crypto, so ids differ across processes). */
export function randomBase62(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += alphabet[byte % 62];
  return out;
}

/** Mints ids for one simulated connection: a random stem plus a counter, cheap enough for every event. */
export class IdFactory {
  private readonly stem = randomBase62(10);
  private counter = 0;

  /** A fresh id such as `event_Xy12…` (API ids are 21 characters after the prefix; ours are close). */
  next(prefix: "event" | "item" | "resp" | "sess" | "conv"): string {
    this.counter++;
    return `${prefix}_${this.stem}${this.counter.toString(36).padStart(6, "0")}`;
  }
}
