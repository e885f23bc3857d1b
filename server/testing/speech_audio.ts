/**
 * Test support: a spoken sentence as a WAV file for Chromium's fake microphone (`espeak-ng`, then `sox`
 * to 48 kHz with silence around it), WAV parsing, and the energy measurements the browser test compares
 * between what was spoken and what the simulator received (speech span, level, envelope).
 *
 * @module
 */

/** Mono samples in -1..1 at `rate`. */
export interface Pcm {
  rate: number;
  samples: Float32Array;
}

/** A stretch of speech, in milliseconds from the start of the audio. */
export interface Span {
  startMs: number;
  endMs: number;
}

/** The fake microphone's file and the reference it was made from. */
export interface SpokenSentence {
  /** 48 kHz mono PCM16 WAV: silence, the sentence, silence (Chromium loops it). */
  wavPath: string;
  /** The sentence alone, resampled by sox to 24 kHz: what the simulator should receive. */
  reference: Pcm;
  /** Length of one loop of the WAV file. */
  loopMs: number;
  /** Where the sentence starts within the loop. */
  leadMs: number;
}

async function run(command: string, args: string[]): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    throw new Error(
      `${command} is not installed (${error instanceof Error ? error.message : error}); ` +
        "install Debian's espeak-ng and sox (see .ci/run)",
    );
  }
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** Parses a PCM16 WAV (any rate, mono or multi-channel, averaged to mono). */
export function parseWav(bytes: Uint8Array): Pcm {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a RIFF/WAVE file");
  let offset = 12;
  let channels = 0;
  let rate = 0;
  let bits = 0;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === "fmt ") {
      const format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      rate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      if ((format !== 1 && format !== 0xfffe) || bits !== 16) {
        throw new Error(`only PCM16 WAV is supported (format ${format}, ${bits} bits)`);
      }
    } else if (id === "data") {
      if (!channels) throw new Error("WAV data before its fmt chunk");
      const frames = Math.floor(Math.min(size, bytes.length - body) / (2 * channels));
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += view.getInt16(body + (i * channels + c) * 2, true);
        samples[i] = sum / channels / 32768;
      }
      return { rate, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error("WAV file has no data chunk");
}

/** Decodes PCM16 little-endian bytes (what `input_audio_buffer.append` carries) to samples. */
export function decodePcm16(bytes: Uint8Array, rate = 24_000): Pcm {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true) / 32768;
  return { rate, samples };
}

/** Has espeak-ng say `sentence` and builds the fake microphone's WAV in `dir`. */
export async function speakSentence(
  dir: string,
  sentence: string,
  options: { leadSeconds: number; tailSeconds: number },
): Promise<SpokenSentence> {
  const raw = `${dir}/espeak.wav`;
  const wavPath = `${dir}/microphone.wav`;
  const referencePath = `${dir}/reference-24k.wav`;
  await run("espeak-ng", ["-v", "en-us", "-s", "150", "-w", raw, sentence]);
  await run("sox", [
    raw,
    "-r",
    "48000",
    "-c",
    "1",
    "-b",
    "16",
    wavPath,
    "pad",
    `${options.leadSeconds}`,
    `${options.tailSeconds}`,
  ]);
  await run("sox", [raw, "-r", "24000", "-c", "1", "-b", "16", referencePath]);
  const microphone = parseWav(await Deno.readFile(wavPath));
  return {
    wavPath,
    reference: parseWav(await Deno.readFile(referencePath)),
    loopMs: (microphone.samples.length / microphone.rate) * 1000,
    leadMs: options.leadSeconds * 1000,
  };
}

/** RMS of each `windowMs` window. */
export function windowLevels(pcm: Pcm, windowMs = 10): Float32Array {
  const size = Math.round((pcm.rate * windowMs) / 1000);
  const out = new Float32Array(Math.floor(pcm.samples.length / size));
  for (let w = 0; w < out.length; w++) {
    let energy = 0;
    for (let i = w * size; i < (w + 1) * size; i++) energy += pcm.samples[i] * pcm.samples[i];
    out[w] = Math.sqrt(energy / size);
  }
  return out;
}

/**
 * Stretches of speech: windows of 10 ms at or above `threshold`, joined across quiet gaps shorter than
 * `joinMs` (the pauses between words).
 */
export function speechSpans(pcm: Pcm, threshold: number, joinMs = 300): Span[] {
  const levels = windowLevels(pcm, 10);
  const spans: Span[] = [];
  for (let w = 0; w < levels.length; w++) {
    if (levels[w] < threshold) continue;
    const last = spans[spans.length - 1];
    if (last && w * 10 - last.endMs < joinMs) last.endMs = (w + 1) * 10;
    else spans.push({ startMs: w * 10, endMs: (w + 1) * 10 });
  }
  return spans;
}

/** The samples of `span`. */
export function slice(pcm: Pcm, span: Span): Pcm {
  const from = Math.round((span.startMs * pcm.rate) / 1000);
  const to = Math.round((span.endMs * pcm.rate) / 1000);
  return { rate: pcm.rate, samples: pcm.samples.subarray(from, to) };
}

/** RMS of all samples. */
export function level(pcm: Pcm): number {
  let energy = 0;
  for (const s of pcm.samples) energy += s * s;
  return Math.sqrt(energy / Math.max(1, pcm.samples.length));
}

/**
 * The best Pearson correlation of the two 10 ms level envelopes over shifts of up to `maxShiftMs`:
 * 1 when the received audio rises and falls with the spoken one, near 0 for unrelated sound.
 */
export function envelopeCorrelation(a: Pcm, b: Pcm, maxShiftMs = 50): number {
  const x = windowLevels(a);
  const y = windowLevels(b);
  let best = -1;
  for (let shift = -maxShiftMs / 10; shift <= maxShiftMs / 10; shift++) {
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < x.length; i++) {
      const j = i + shift;
      if (j >= 0 && j < y.length) pairs.push([x[i], y[j]]);
    }
    if (pairs.length < 10) continue;
    const mean = (k: 0 | 1) => pairs.reduce((s, p) => s + p[k], 0) / pairs.length;
    const mx = mean(0);
    const my = mean(1);
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (const [p, q] of pairs) {
      sxy += (p - mx) * (q - my);
      sxx += (p - mx) ** 2;
      syy += (q - my) ** 2;
    }
    if (sxx > 0 && syy > 0) best = Math.max(best, sxy / Math.sqrt(sxx * syy));
  }
  return best;
}
