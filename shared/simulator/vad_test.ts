import assert from "node:assert/strict";
import { EnergyVad, rmsThresholdFor } from "./vad.ts";

const rate = 24_000;

function tone(ms: number, amplitude: number): Float32Array {
  const out = new Float32Array((rate * ms) / 1000);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin((2 * Math.PI * 440 * i) / rate) * amplitude;
  return out;
}

const silence = (ms: number) => new Float32Array((rate * ms) / 1000);

Deno.test("speech starts on the first loud window and stops after silenceMs of audio time", () => {
  const vad = new EnergyVad({ sampleRate: rate, rmsThreshold: rmsThresholdFor(0.5), silenceMs: 500 });
  assert.deepEqual(vad.feed(silence(200)), []);
  assert.deepEqual(vad.feed(tone(1000, 0.3)), [{ kind: "speech_started", atSample: 200 * 24 }]);
  assert.equal(vad.inSpeech, true);
  assert.deepEqual(vad.feed(silence(490)), [], "490 ms of silence is not yet the end");
  assert.deepEqual(vad.feed(silence(10)), [{ kind: "speech_stopped", atSample: 1700 * 24 }]);
  assert.equal(vad.inSpeech, false);
});

Deno.test("a short pause inside speech does not end it; feeding order, not call size, decides", () => {
  const vad = new EnergyVad({ sampleRate: rate, rmsThreshold: rmsThresholdFor(0.5), silenceMs: 500 });
  const audio = new Float32Array([...tone(300, 0.3), ...silence(300), ...tone(300, 0.3), ...silence(600)]);
  const transitions = [];
  for (let i = 0; i < audio.length; i += 480 * 3 + 7) {
    transitions.push(...vad.feed(audio.subarray(i, i + 480 * 3 + 7)));
  }
  assert.deepEqual(transitions, [
    { kind: "speech_started", atSample: 0 },
    { kind: "speech_stopped", atSample: 1400 * 24 },
  ]);
});

Deno.test("audio below the threshold is not speech; a higher threshold needs louder audio", () => {
  const quiet = new EnergyVad({ sampleRate: rate, rmsThreshold: rmsThresholdFor(0.5), silenceMs: 500 });
  assert.deepEqual(quiet.feed(tone(500, 0.01)), []);
  const strict = new EnergyVad({ sampleRate: rate, rmsThreshold: rmsThresholdFor(0.9), silenceMs: 500 });
  assert.deepEqual(strict.feed(tone(500, 0.05)), []);
  assert.equal(strict.feed(tone(100, 0.3)).length, 1);
});
