/**
 * The voices the Realtime API offers, under the names client code uses. The list itself is the one the
 * relay checks against (`shared/protocol/voices.ts`), so the picker can never offer a voice it refuses.
 *
 * @module
 */
export {
  /** True when `name` is one of {@link VOICES}. */
  isRealtimeVoice as isVoice,
  /** Every allowed voice, in the order a picker shows them. */
  REALTIME_VOICES as VOICES,
  /** One of {@link VOICES}. */
  type RealtimeVoice as Voice,
} from "../shared/protocol/voices.ts";
