import assert from "node:assert/strict";
import {
  aLawToLinear,
  base64DecodedLength,
  decodeBase64,
  encodeBase64,
  linearToALaw,
  linearToMuLaw,
  muLawToLinear,
  SampleDecoder,
  synthesizeVoiceChunk,
} from "./pcm_audio.ts";

Deno.test("base64 round-trips, refuses non-base64, and its decoded length is known without decoding", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(1001));
  const text = encodeBase64(bytes);
  assert.deepEqual(decodeBase64(text), bytes);
  assert.equal(base64DecodedLength(text), 1001);
  assert.equal(decodeBase64("@@@"), undefined);
});

Deno.test("PCM16 samples split across appends decode as if sent whole", () => {
  const whole = new Uint8Array([0x00, 0x80, 0xff, 0x7f, 0x01, 0x00]);
  const decoder = new SampleDecoder("audio/pcm");
  const samples = [...decoder.decode(whole.subarray(0, 3)), ...decoder.decode(whole.subarray(3))];
  assert.deepEqual(samples, [-1, 32767 / 32768, 1 / 32768]);
});

Deno.test("G.711 μ-law and A-law encode and decode within the codec's step size", () => {
  for (const sample of [0, 100, -100, 1000, -1000, 12000, -12000, 32000, -32000]) {
    const tolerance = Math.max(16, Math.abs(sample) / 16);
    assert.ok(Math.abs(muLawToLinear(linearToMuLaw(sample)) - sample) <= tolerance, `μ-law ${sample}`);
    assert.ok(Math.abs(aLawToLinear(linearToALaw(sample)) - sample) <= tolerance, `A-law ${sample}`);
  }
});

Deno.test("the synthetic voice has the format's length and is not silent", () => {
  const pcm = synthesizeVoiceChunk("audio/pcm", 100);
  assert.equal(pcm.length, 4800);
  assert.ok(new SampleDecoder("audio/pcm").decode(pcm).some((s) => Math.abs(s) > 0.1));
  assert.equal(synthesizeVoiceChunk("audio/pcmu", 100).length, 800);
});
