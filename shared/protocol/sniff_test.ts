import assert from "node:assert/strict";
import { sniffEventType } from "./sniff.ts";

Deno.test("reads the type when it comes first, and falls back to parsing otherwise", () => {
  assert.equal(
    sniffEventType('{"type":"input_audio_buffer.append","audio":"AAAA"}'),
    "input_audio_buffer.append",
  );
  assert.equal(
    sniffEventType('{"event_id":"e1","session":{"type":"realtime"},"type":"session.update"}'),
    "session.update",
  );
  assert.equal(sniffEventType('{ "type" : "response.create" }'), "response.create");
  assert.equal(sniffEventType('{"type":"a\\u002eb"}'), "a.b");
});

Deno.test("untyped or malformed frames have no type", () => {
  for (const text of ["", "not json", "[1,2]", '{"type":3}', '{"kind":"x"}', "null", '{"type":"']) {
    assert.equal(sniffEventType(text), undefined, text);
  }
});
