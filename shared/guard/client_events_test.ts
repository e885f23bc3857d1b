import assert from "node:assert/strict";
import {
  base64DecodedBytes,
  clientEventSchemas,
  fastAppendAudioBytes,
  isForwardedType,
} from "./client_events.ts";

Deno.test("the fast path recognises flat appends and measures their audio", () => {
  assert.equal(fastAppendAudioBytes('{"type":"input_audio_buffer.append","audio":"AAAA"}'), 3);
  assert.equal(
    fastAppendAudioBytes('{"type":"input_audio_buffer.append","event_id":"e_1","audio":"AAA="}'),
    2,
  );
  assert.equal(fastAppendAudioBytes('{"type":"input_audio_buffer.append","audio":"AA=="}'), 1);
});

Deno.test("anything else takes the full check", () => {
  for (
    const text of [
      '{"type":"input_audio_buffer.append","audio":"AAA"}', // not a multiple of 4
      '{"type":"input_audio_buffer.append","audio":"AA!A"}',
      '{"type":"input_audio_buffer.append","audio":"AAAA","extra":1}',
      '{"audio":"AAAA","type":"input_audio_buffer.append"}',
      '{"type":"input_audio_buffer.append","audio":"AAAA"} ',
    ]
  ) assert.equal(fastAppendAudioBytes(text), -1, text);
});

Deno.test("schemas: appends need valid base64 and nothing else; truncate needs its fields", () => {
  const append = clientEventSchemas["input_audio_buffer.append"];
  assert.ok(append.safeParse({ type: "input_audio_buffer.append", audio: "AAAA" }).success);
  assert.ok(!append.safeParse({ type: "input_audio_buffer.append", audio: "not base64!" }).success);
  assert.ok(
    !append.safeParse({ type: "input_audio_buffer.append", audio: "AAAA", instructions: "x" }).success,
  );
  const truncate = clientEventSchemas["conversation.item.truncate"];
  assert.ok(
    truncate.safeParse({
      type: "conversation.item.truncate",
      item_id: "i",
      content_index: 0,
      audio_end_ms: 10,
    }).success,
  );
  assert.ok(
    !truncate.safeParse({
      type: "conversation.item.truncate",
      item_id: "i",
      content_index: 0,
      audio_end_ms: -1,
    }).success,
  );
  assert.equal(isForwardedType("output_audio_buffer.clear"), false);
  assert.equal(isForwardedType("session.update"), true);
  assert.equal(base64DecodedBytes("AAAAAA=="), 4);
});
