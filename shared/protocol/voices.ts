/**
 * The voices the Realtime API offers: the eight the first clients offered, plus marin and cedar (GA).
 * One list for the relay's checks, the simulator and the browser client's picker.
 *
 * @module
 */

/** Every Realtime voice. */
export const REALTIME_VOICES = [
  "alloy",
  "ash",
  "ballad",
  "coral",
  "echo",
  "sage",
  "shimmer",
  "verse",
  "marin",
  "cedar",
] as const;

/** One of {@link REALTIME_VOICES}. */
export type RealtimeVoice = typeof REALTIME_VOICES[number];

/** True when `value` names a Realtime voice. */
export function isRealtimeVoice(value: unknown): value is RealtimeVoice {
  return typeof value === "string" && (REALTIME_VOICES as readonly string[]).includes(value);
}
