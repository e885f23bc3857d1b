import assert from "node:assert/strict";
import { parseClientEvent } from "./client_events.ts";

function errorOf(frame: unknown) {
  const parsed = parseClientEvent(typeof frame === "string" ? frame : JSON.stringify(frame));
  assert.equal(parsed.ok, false, `expected ${JSON.stringify(frame)} to be refused`);
  return (parsed as { error: { code: string | null; param: string | null; message: string } }).error;
}

Deno.test("GA events validate, including the agents SDK's session.update shape", () => {
  const update = {
    type: "session.update",
    session: {
      type: "realtime",
      model: "gpt-realtime",
      output_modalities: ["audio"],
      audio: {
        input: {
          format: { type: "audio/pcm", rate: 24000 },
          noise_reduction: null,
          transcription: { model: "gpt-4o-mini-transcribe" },
          turn_detection: { type: "semantic_vad", eagerness: "auto", model_version: "default" },
        },
        output: { format: { type: "audio/pcm", rate: 24000 }, voice: { id: "voice_123" }, speed: 1 },
      },
      tool_choice: "auto",
      tools: [{ type: "function", name: "lookup", description: "x", parameters: {} }],
    },
  };
  assert.equal(parseClientEvent(JSON.stringify(update)).ok, true);
  assert.equal(
    parseClientEvent('{"type":"conversation.item.truncate","item_id":"i","content_index":0,"audio_end_ms":5}')
      .ok,
    true,
  );
});

Deno.test("mistakes map to the API's codes, messages and params", () => {
  assert.deepEqual(errorOf({ type: "session.update", session: { type: "realtime", temperature: 0.8 } }), {
    type: "invalid_request_error",
    code: "unknown_parameter",
    message: "Unknown parameter: 'session.temperature'.",
    param: "session.temperature",
    event_id: null,
  });
  assert.equal(
    errorOf({ type: "session.update", session: { type: "realtime", tools: [{ name: "x" }] } }).param,
    "session.tools[0].type",
  );
  assert.equal(
    errorOf({ type: "conversation.item.truncate", item_id: "i", content_index: 0, audio_end_ms: 1.5 }).code,
    "invalid_type",
  );
  assert.match(
    errorOf({ type: "response.audio.delta" }).message,
    /^Invalid value: 'response.audio.delta'\. Supported values are: 'session.update', /,
  );
  assert.equal(
    errorOf({ type: "session.update", session: { type: "realtime", output_modalities: ["text", "audio"] } })
      .code,
    "array_above_max_length",
  );
  assert.equal(errorOf("{").code, "invalid_json");
});
