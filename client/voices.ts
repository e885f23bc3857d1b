/**
 * The voices the Realtime API offers (the eight of the first clients, plus marin and cedar in GA).
 *
 * @module
 */

/** Every allowed voice, in the order a picker shows them. */
export const VOICES = [
  "marin",
  "cedar",
  "alloy",
  "ash",
  "ballad",
  "coral",
  "echo",
  "sage",
  "shimmer",
  "verse",
] as const;

/** One of {@link VOICES}. */
export type Voice = typeof VOICES[number];

/** True when `name` is one of {@link VOICES}. */
export function isVoice(name: unknown): name is Voice {
  return typeof name === "string" && (VOICES as readonly string[]).includes(name);
}
