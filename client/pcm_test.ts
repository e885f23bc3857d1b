import assert from "node:assert/strict";
import { base64ToBytes, bytesToBase64, pcm16DurationMs, pcm16ToFloat32, rms } from "./pcm.ts";

Deno.test("base64 round-trips bytes, large buffers included", () => {
  const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) & 0xff);
  const text = bytesToBase64(bytes);
  assert.equal(bytesToBase64(Uint8Array.from([1, 2, 3, 250])), btoa(String.fromCharCode(1, 2, 3, 250)));
  assert.deepEqual(base64ToBytes(text), bytes);
  assert.equal(bytesToBase64(new Uint8Array()), "");
  assert.throws(() => base64ToBytes("not base64!"));
});

Deno.test("PCM16 little-endian bytes decode to -1..1 samples, from any offset", () => {
  const backing = new Uint8Array([0xaa, 0x00, 0x00, 0xff, 0x7f, 0x00, 0x80, 0x00, 0x40, 0x01]);
  const samples = pcm16ToFloat32(backing.subarray(1)); // odd offset: no aligned Int16Array view possible
  assert.equal(samples.length, 4, "the trailing odd byte is ignored");
  assert.deepEqual(Array.from(samples), [0, 32767 / 32768, -1, 0.5]);
});

Deno.test("durations and levels", () => {
  assert.equal(pcm16DurationMs(4800), 100);
  assert.equal(rms(new Float32Array()), 0);
  assert.ok(Math.abs(rms(Float32Array.from([0.5, -0.5, 0.5, -0.5])) - 0.5) < 1e-9);
});
