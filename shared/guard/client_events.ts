/**
 * The client events the relay forwards, each with a zod schema; anything else is answered with an
 * `error` event in the API's own shape and never reaches OpenAI. Audio appends take a fast path: a
 * frame in the flat shape every SDK sends is recognised by one linear scan, without JSON.parse.
 *
 * @module
 */
import { z } from "zod";

const eventId = z.string().max(256).optional();
const base64Audio = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64").refine(
  (s) => s.length % 4 === 0,
  "must be base64 (length not a multiple of 4)",
);
const itemId = z.string().min(1).max(256);

/** The session object of a client `session.update`; the filter decides which fields survive. */
export const sessionObjectSchema = z.record(z.string(), z.unknown());

/** Schemas of every client event type the relay forwards, GA names (beta shapes differ only in `session`). */
export const clientEventSchemas = {
  "session.update": z.looseObject({
    type: z.literal("session.update"),
    event_id: eventId,
    session: sessionObjectSchema,
  }),
  "input_audio_buffer.append": z.strictObject({
    type: z.literal("input_audio_buffer.append"),
    event_id: eventId,
    audio: base64Audio,
  }),
  "input_audio_buffer.commit": z.strictObject({
    type: z.literal("input_audio_buffer.commit"),
    event_id: eventId,
  }),
  "input_audio_buffer.clear": z.strictObject({
    type: z.literal("input_audio_buffer.clear"),
    event_id: eventId,
  }),
  "conversation.item.create": z.looseObject({
    type: z.literal("conversation.item.create"),
    event_id: eventId,
    previous_item_id: z.string().max(256).nullable().optional(),
    item: z.looseObject({ type: z.enum(["message", "function_call", "function_call_output"]) }),
  }),
  "conversation.item.truncate": z.strictObject({
    type: z.literal("conversation.item.truncate"),
    event_id: eventId,
    item_id: itemId,
    content_index: z.number().int().min(0),
    audio_end_ms: z.number().int().min(0),
  }),
  "conversation.item.delete": z.strictObject({
    type: z.literal("conversation.item.delete"),
    event_id: eventId,
    item_id: itemId,
  }),
  "conversation.item.retrieve": z.strictObject({
    type: z.literal("conversation.item.retrieve"),
    event_id: eventId,
    item_id: itemId,
  }),
  "response.create": z.looseObject({
    type: z.literal("response.create"),
    event_id: eventId,
    response: z.record(z.string(), z.unknown()).optional(),
  }),
  "response.cancel": z.strictObject({
    type: z.literal("response.cancel"),
    event_id: eventId,
    response_id: z.string().max(256).optional(),
  }),
} as const;

/** A client event type the relay forwards. */
export type ForwardedClientEventType = keyof typeof clientEventSchemas;

/** True when the relay forwards events of `type`. */
export function isForwardedType(type: string): type is ForwardedClientEventType {
  return Object.hasOwn(clientEventSchemas, type);
}

// `{"type":"input_audio_buffer.append"[,"event_id":"..."],"audio":"<base64>"[,"event_id":"..."]}`: the
// flat shape SDKs send. A match is valid JSON with a valid shape, so it needs no parse.
const fastAppend =
  /^\{"type":"input_audio_buffer\.append",(?:"event_id":"[A-Za-z0-9_.:-]{0,128}",)?"audio":"([A-Za-z0-9+/]*={0,2})"(?:,"event_id":"[A-Za-z0-9_.:-]{0,128}")?\}$/;

/**
 * Recognises a well-formed flat audio append and returns the decoded audio size in bytes, or -1 when
 * the frame needs the full check.
 */
export function fastAppendAudioBytes(text: string): number {
  const match = fastAppend.exec(text);
  if (!match) return -1;
  const audio = match[1];
  if (audio.length % 4 !== 0) return -1;
  const padding = audio.endsWith("==") ? 2 : audio.endsWith("=") ? 1 : 0;
  return (audio.length / 4) * 3 - padding;
}

/** Decoded byte length of valid base64 text. */
export function base64DecodedBytes(audio: string): number {
  const padding = audio.endsWith("==") ? 2 : audio.endsWith("=") ? 1 : 0;
  return (audio.length / 4) * 3 - padding;
}
