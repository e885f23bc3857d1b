import assert from "node:assert/strict";
import { echoDeltaFrame, readFlatAppend } from "./echo.ts";

Deno.test("flat appends are read without JSON.parse, with or without event_id, keys in any order", () => {
  assert.deepEqual(readFlatAppend('{"type":"input_audio_buffer.append","audio":"AAEC+/=="}'), {
    audio: "AAEC+/==",
    eventId: null,
  });
  assert.deepEqual(readFlatAppend('{"event_id":"e1","audio":"AAEC","type":"input_audio_buffer.append"}'), {
    audio: "AAEC",
    eventId: "e1",
  });
});

Deno.test("anything but the flat shape falls back to the full parser (undefined)", () => {
  const fallbacks = [
    '{"type":"input_audio_buffer.append","audio":"AA\\/EC"}',
    '{ "type":"input_audio_buffer.append","audio":"AAEC"}',
    '{"type":"input_audio_buffer.append","audio":"AAEC","extra":"x"}',
    '{"type":"input_audio_buffer.append","audio":"AAEC","audio":"BB"}',
    '{"type":"input_audio_buffer.append","audio":1}',
    '{"type":"input_audio_buffer.commit"}',
    '{"type":"input_audio_buffer.append"}',
    '{"type":"input_audio_buffer.append","audio":"AAEC"',
    '{"type":"input_audio_buffer.append","audio":"AAEC"}x',
    "",
  ];
  for (const text of fallbacks) assert.equal(readFlatAppend(text), undefined, text);
});

Deno.test("the echo frame is valid JSON carrying the same audio", () => {
  const frame = JSON.parse(echoDeltaFrame("event_1", "resp_1", "item_1", "AAEC+/=="));
  assert.deepEqual(frame, {
    type: "response.output_audio.delta",
    event_id: "event_1",
    response_id: "resp_1",
    item_id: "item_1",
    output_index: 0,
    content_index: 0,
    delta: "AAEC+/==",
  });
});
