/**
 * Echo mode, for the relay benchmark: every `input_audio_buffer.append` is answered at once with one
 * `response.output_audio.delta` carrying the same base64 string, so a load generator can match frames by
 * bytes it embedded in the audio. Appends in the usual flat shape are read without `JSON.parse`.
 *
 * @module
 */

/** An append read by {@link readFlatAppend}. */
export interface FlatAppend {
  audio: string;
  eventId: string | null;
}

/**
 * Reads `{"type":"input_audio_buffer.append","audio":"…"}` (keys in any order, optional `event_id`)
 * without parsing JSON. Returns undefined for anything else — other keys, whitespace, escapes, non-string
 * values — so the caller falls back to the full parser and stays correct for every input.
 */
export function readFlatAppend(text: string): FlatAppend | undefined {
  if (text.charCodeAt(0) !== 123 /* { */ || text.charCodeAt(text.length - 1) !== 125 /* } */) {
    return undefined;
  }
  // Any backslash means escapes somewhere: leave those frames to JSON.parse.
  if (text.indexOf("\\") >= 0) return undefined;
  let type: string | undefined;
  let audio: string | undefined;
  let eventId: string | null = null;
  let pos = 1;
  while (true) {
    if (text.charCodeAt(pos) !== 34 /* " */) return undefined;
    const keyEnd = text.indexOf('"', pos + 1);
    if (keyEnd < 0 || text.charCodeAt(keyEnd + 1) !== 58 /* : */ || text.charCodeAt(keyEnd + 2) !== 34) {
      return undefined;
    }
    const key = text.slice(pos + 1, keyEnd);
    const valueStart = keyEnd + 3;
    const valueEnd = text.indexOf('"', valueStart);
    if (valueEnd < 0) return undefined;
    const value = text.slice(valueStart, valueEnd);
    if (key === "type" && type === undefined) type = value;
    else if (key === "audio" && audio === undefined) audio = value;
    else if (key === "event_id" && eventId === null) eventId = value;
    else return undefined;
    const next = text.charCodeAt(valueEnd + 1);
    if (next === 125 /* } */ && valueEnd + 2 === text.length) break;
    if (next !== 44 /* , */) return undefined;
    pos = valueEnd + 2;
  }
  if (type !== "input_audio_buffer.append" || audio === undefined) return undefined;
  return { audio, eventId };
}

/**
 * The echo reply, built by concatenation. `audio` must be a JSON-safe string (no quote or backslash),
 * which {@link readFlatAppend} guarantees; other callers pass it through `JSON.stringify` first.
 */
export function echoDeltaFrame(eventId: string, responseId: string, itemId: string, audio: string): string {
  return `{"type":"response.output_audio.delta","event_id":"${eventId}","response_id":"${responseId}",` +
    `"item_id":"${itemId}","output_index":0,"content_index":0,"delta":"${audio}"}`;
}
