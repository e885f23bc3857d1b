import assert from "node:assert/strict";
import { MIC_PROCESSOR_NAME, type MicChunk, micDsp, micWorkletSource } from "./mic_worklet.ts";
import { pcm16ToFloat32, rms } from "./pcm.ts";

const dsp = micDsp();

function sine(rate: number, hz: number, seconds: number, amplitude: number): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / rate);
  return out;
}

/** Frequency estimated from upward zero crossings. */
function frequency(samples: Float32Array, rate: number): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1] < 0 && samples[i] >= 0) crossings++;
  return (crossings * rate) / samples.length;
}

function resampleInBlocks(input: Float32Array, from: number, to: number, sizes: number[]): Float32Array {
  const resampler = dsp.createResampler(from, to);
  const parts: Float32Array[] = [];
  let offset = 0;
  for (let i = 0; offset < input.length; i++) {
    const size = sizes[i % sizes.length];
    parts.push(resampler.process(input.subarray(offset, offset + size)));
    offset += size;
  }
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

Deno.test("floatToPcm16 writes clamped, rounded little-endian samples", () => {
  const bytes = dsp.floatToPcm16(Float32Array.from([0, 1, -1, 0.5, 2, -2, -0.25]));
  const view = new DataView(bytes.buffer);
  const values = Array.from({ length: 7 }, (_, i) => view.getInt16(i * 2, true));
  assert.deepEqual(values, [0, 32767, -32768, 16384, 32767, -32768, -8192]);
  assert.deepEqual(Array.from(bytes.subarray(2, 4)), [0xff, 0x7f], "little-endian");
  // And back: the main thread's decoder reads what the worklet wrote.
  const roundTrip = pcm16ToFloat32(bytes);
  assert.ok(Math.abs(roundTrip[3] - 0.5) < 1e-4);
});

Deno.test("48 kHz to 24 kHz keeps a 1 kHz tone's length, pitch and level", () => {
  const input = sine(48_000, 1000, 1, 0.5);
  const out = resampleInBlocks(input, 48_000, 24_000, [128]);
  assert.ok(Math.abs(out.length - 24_000) <= 2, `length ${out.length}`);
  assert.ok(Math.abs(frequency(out, 24_000) - 1000) <= 2, `frequency ${frequency(out, 24_000)}`);
  // Skip the filter's first milliseconds (it starts from rest).
  const level = rms(out.subarray(240));
  assert.ok(Math.abs(level - 0.5 / Math.SQRT2) < 0.01, `rms ${level}`);
});

Deno.test("44.1 kHz to 24 kHz: the right count, and block boundaries do not change the output", () => {
  const input = sine(44_100, 440, 2, 0.3);
  const whole = resampleInBlocks(input, 44_100, 24_000, [input.length]);
  const pieces = resampleInBlocks(input, 44_100, 24_000, [128, 1, 7, 333, 128, 2]);
  const expected = (input.length * 24_000) / 44_100;
  assert.ok(Math.abs(whole.length - expected) <= 2, `length ${whole.length}, expected ${expected}`);
  assert.equal(pieces.length, whole.length);
  for (let i = 0; i < whole.length; i++) assert.ok(Math.abs(whole[i] - pieces[i]) < 1e-5, `sample ${i}`);
  assert.ok(Math.abs(frequency(whole, 24_000) - 440) <= 2);
});

Deno.test("downsampling filters what 24 kHz cannot carry instead of folding it into speech", () => {
  const input = sine(48_000, 20_000, 0.5, 0.5);
  const out = resampleInBlocks(input, 48_000, 24_000, [128]);
  // Plain decimation would turn this into a full-level 4 kHz tone.
  assert.ok(rms(out.subarray(240)) < 0.1 * rms(input), `alias level ${rms(out.subarray(240))}`);
});

Deno.test("upsampling (a 16 kHz context) and equal rates work too", () => {
  const up = resampleInBlocks(sine(16_000, 500, 1, 0.5), 16_000, 24_000, [128]);
  assert.ok(Math.abs(up.length - 24_000) <= 2);
  assert.ok(Math.abs(frequency(up, 24_000) - 500) <= 2);
  const same = resampleInBlocks(sine(24_000, 500, 0.1, 0.5), 24_000, 24_000, [128]);
  assert.equal(same.length, 2400);
  assert.throws(() => dsp.createResampler(0, 24_000), /positive/);
});

Deno.test("the encoder downmixes and emits fixed chunks of 20-100 ms of 24 kHz PCM16", () => {
  assert.equal(dsp.chunkSamples(40), 960);
  assert.equal(dsp.chunkSamples(5), 480);
  assert.equal(dsp.chunkSamples(500), 2400);
  const encoder = dsp.createMicEncoder(48_000, 40);
  const left = sine(48_000, 300, 1, 0.4);
  const right = new Float32Array(left.length); // silent channel: the mono mix is half the level
  const chunks: MicChunk[] = [];
  for (let offset = 0; offset < left.length; offset += 128) {
    chunks.push(...encoder.push([left.subarray(offset, offset + 128), right.subarray(offset, offset + 128)]));
  }
  assert.equal(chunks.length, 25, "1 s of input is 25 chunks of 40 ms");
  for (const chunk of chunks) assert.equal(chunk.pcm.byteLength, 1920);
  const level = chunks.slice(1).reduce((sum, c) => sum + c.rms, 0) / (chunks.length - 1);
  assert.ok(Math.abs(level - 0.2 / Math.SQRT2) < 0.01, `rms ${level}`);
  assert.ok(Math.abs(rms(pcm16ToFloat32(chunks[5].pcm)) - chunks[5].rms) < 0.001);
  assert.deepEqual(encoder.push([]), []);
});

Deno.test("the worklet source is self-contained and registers a working processor", () => {
  const scope = globalThis as Record<string, unknown>;
  const saved = ["sampleRate", "AudioWorkletProcessor", "registerProcessor"].map((k) =>
    [k, scope[k]] as const
  );
  const posted: Array<{ chunk: MicChunk; transfer: unknown[] }> = [];
  let registered:
    | { name: string; ctor: new (options: unknown) => { process(i: Float32Array[][]): boolean } }
    | undefined;
  try {
    scope.sampleRate = 44_100;
    scope.AudioWorkletProcessor = class {
      port = { postMessage: (chunk: MicChunk, transfer: unknown[]) => posted.push({ chunk, transfer }) };
    };
    scope.registerProcessor = (name: string, ctor: never) => (registered = { name, ctor });
    // Evaluated as the worklet would: only its own text, no module scope around it.
    new Function(micWorkletSource())();
    assert.equal(registered?.name, MIC_PROCESSOR_NAME);
    const processor = new registered!.ctor({ processorOptions: { chunkMs: 20 } });
    const input = sine(44_100, 200, 0.5, 0.5);
    for (let offset = 0; offset + 128 <= input.length; offset += 128) {
      assert.equal(processor.process([[input.subarray(offset, offset + 128)]]), true);
    }
    assert.equal(processor.process([]), true, "no input connected yet");
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete scope[key];
      else scope[key] = value;
    }
  }
  assert.equal(posted.length, 24, "0.5 s at 44.1 kHz is 24 full chunks of 20 ms");
  for (const { chunk, transfer } of posted) {
    assert.equal(chunk.pcm.byteLength, 960);
    assert.deepEqual(transfer, [chunk.pcm.buffer], "the PCM buffer is transferred, not copied");
  }
});
