import assert from "node:assert/strict";
import { echoDeltaFrame, readFlatAppend } from "../../shared/simulator/echo.ts";
import { decodeBase64 } from "../../shared/simulator/pcm_audio.ts";
import {
  frameAudioBase64Chars,
  FrameEncoder,
  type FrameHeader,
  framePcmBytes,
  readEchoHeader,
} from "./frame_codec.ts";

Deno.test("an encoded frame is a flat append of 960 PCM bytes the echo simulator reads without JSON.parse", () => {
  const frame = new TextDecoder().decode(new FrameEncoder().encode(7, 42, 1234.5));
  const parsed = JSON.parse(frame) as { type: string; audio: string };
  assert.equal(parsed.type, "input_audio_buffer.append");
  assert.equal(parsed.audio.length, frameAudioBase64Chars);
  assert.equal(decodeBase64(parsed.audio)?.length, framePcmBytes);
  assert.equal(readFlatAppend(frame)?.audio, parsed.audio);
});

Deno.test("the simulator's echo of a frame gives back its session, sequence number and send time", () => {
  const encoder = new FrameEncoder();
  const header: FrameHeader = { session: -1, seq: -1, sentAt: -1 };
  for (const [session, seq, sentAt] of [[0, 0, 0], [199, 4999, 98765.4321], [4_000_000_000, 1, 1e-3]]) {
    const append = readFlatAppend(new TextDecoder().decode(encoder.encode(session, seq, sentAt)))!;
    const echoed = new TextEncoder().encode(echoDeltaFrame("event_1", "resp_1", "item_1", append.audio));
    assert.equal(readEchoHeader(echoed, header), true);
    assert.deepEqual(header, { session, seq, sentAt });
  }
});

Deno.test("readEchoHeader refuses frames that are not echoed audio", () => {
  const header: FrameHeader = { session: -1, seq: -1, sentAt: -1 };
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.equal(readEchoHeader(bytes('{"type":"session.created","session":{}}'), header), false);
  assert.equal(readEchoHeader(bytes('{"type":"response.output_audio.delta","delta":"AAAA"}'), header), false);
  assert.equal(header.session, -1);
});
