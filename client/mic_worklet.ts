/**
 * The microphone's AudioWorklet: downmixes to mono, resamples from the AudioContext's rate to 24 kHz,
 * converts to PCM16 little-endian and hands the main thread chunks of 20-100 ms with their level.
 *
 * The worklet code is shipped as a Blob module built from {@link micWorkletSource}, so apps need no
 * bundler setup for it. That is why {@link micDsp} and {@link registerMicProcessor} are self-contained
 * functions (no imports, no module-level helpers, no class fields): their own source text is the
 * worklet's source. Apps with a strict CSP (no `blob:` scripts) can serve that text as a file instead
 * and pass its URL as `workletUrl`.
 *
 * @module
 */

/** The name the processor is registered under. */
export const MIC_PROCESSOR_NAME = "relay-mic-pcm16";

/** One chunk the worklet posts: PCM16 LE bytes at 24 kHz and its RMS level (0..1). */
export interface MicChunk {
  pcm: Uint8Array<ArrayBuffer>;
  rms: number;
}

/** What {@link micDsp} returns. */
export interface MicDsp {
  /** Samples in -1..1 to PCM16 little-endian bytes (clamped, rounded). */
  floatToPcm16(samples: Float32Array): Uint8Array<ArrayBuffer>;
  /** A streaming resampler: feed blocks in order, get the resampled blocks (continuous across calls). */
  createResampler(inputRate: number, outputRate: number): { process(input: Float32Array): Float32Array };
  /** Samples of 24 kHz audio in one chunk of `chunkMs` (clamped to 20-100 ms). */
  chunkSamples(chunkMs: number): number;
  /** Turns worklet input blocks (one array per channel) into 24 kHz PCM16 chunks. */
  createMicEncoder(inputRate: number, chunkMs: number): { push(channels: Float32Array[]): MicChunk[] };
}

/**
 * The signal processing of the worklet. Self-contained on purpose (see the module doc); tests call it
 * directly.
 */
export function micDsp(): MicDsp {
  const outputRate = 24000;

  function floatToPcm16(samples: Float32Array): Uint8Array<ArrayBuffer> {
    const bytes = new Uint8Array(samples.length * 2);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i] > 1 ? 1 : samples[i] < -1 ? -1 : samples[i];
      view.setInt16(i * 2, Math.round(s < 0 ? s * 32768 : s * 32767), true);
    }
    return bytes;
  }

  /** A 4th-order Butterworth low-pass (two biquads) against aliasing when downsampling. */
  function createLowPass(rate: number, cutoff: number): (x: Float32Array) => Float32Array {
    const sections = [0.5412, 1.3066].map((q) => {
      const w0 = (2 * Math.PI * cutoff) / rate;
      const alpha = Math.sin(w0) / (2 * q);
      const cos = Math.cos(w0);
      const a0 = 1 + alpha;
      return {
        b0: (1 - cos) / 2 / a0,
        b1: (1 - cos) / a0,
        b2: (1 - cos) / 2 / a0,
        a1: (-2 * cos) / a0,
        a2: (1 - alpha) / a0,
        z1: 0,
        z2: 0,
      };
    });
    return (x) => {
      const y = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) {
        let v = x[i];
        for (let k = 0; k < sections.length; k++) {
          const s = sections[k];
          const out = s.b0 * v + s.z1;
          s.z1 = s.b1 * v - s.a1 * out + s.z2;
          s.z2 = s.b2 * v - s.a2 * out;
          v = out;
        }
        y[i] = v;
      }
      return y;
    };
  }

  function createResampler(inputRate: number, outputRate: number) {
    if (!(inputRate > 0) || !(outputRate > 0)) {
      throw new Error("resampler rates must be positive, got " + inputRate + " -> " + outputRate);
    }
    if (inputRate === outputRate) return { process: (input: Float32Array) => input.slice() };
    const step = inputRate / outputRate;
    const lowPass = inputRate > outputRate ? createLowPass(inputRate, outputRate * 0.45) : undefined;
    // Position of the next output sample, in input samples from the start of the current block;
    // -1 refers to the last sample of the previous block (kept in `previous`).
    let position = 0;
    let previous = 0;
    return {
      process(raw: Float32Array): Float32Array {
        const input = lowPass ? lowPass(raw) : raw;
        const n = input.length;
        if (n === 0) return new Float32Array(0);
        const out = new Float32Array(Math.max(0, Math.ceil((n - 1 - position) / step)) + 1);
        let count = 0;
        while (position < n - 1) {
          const index = Math.floor(position);
          const frac = position - index;
          const a = index < 0 ? previous : input[index];
          const b = input[index + 1];
          out[count++] = a + (b - a) * frac;
          position += step;
        }
        position -= n;
        previous = input[n - 1];
        return out.subarray(0, count);
      },
    };
  }

  function chunkSamples(chunkMs: number): number {
    const ms = chunkMs >= 20 ? (chunkMs <= 100 ? chunkMs : 100) : 20;
    return Math.round((outputRate * ms) / 1000);
  }

  function createMicEncoder(inputRate: number, chunkMs: number) {
    const resampler = createResampler(inputRate, outputRate);
    const size = chunkSamples(chunkMs);
    let pending = new Float32Array(size);
    let filled = 0;
    return {
      push(channels: Float32Array[]): MicChunk[] {
        const chunks: MicChunk[] = [];
        if (channels.length === 0 || channels[0].length === 0) return chunks;
        let mono = channels[0];
        if (channels.length > 1) {
          mono = new Float32Array(channels[0].length);
          for (let c = 0; c < channels.length; c++) {
            for (let i = 0; i < mono.length; i++) mono[i] += channels[c][i] / channels.length;
          }
        }
        const resampled = resampler.process(mono);
        let offset = 0;
        while (offset < resampled.length) {
          const take = Math.min(size - filled, resampled.length - offset);
          pending.set(resampled.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === size) {
            let energy = 0;
            for (let i = 0; i < size; i++) energy += pending[i] * pending[i];
            chunks.push({ pcm: floatToPcm16(pending), rms: Math.sqrt(energy / size) });
            pending = new Float32Array(size);
            filled = 0;
          }
        }
        return chunks;
      },
    };
  }

  return { floatToPcm16, createResampler, chunkSamples, createMicEncoder };
}

/** The worklet global scope, as far as this processor uses it. */
interface WorkletScope {
  sampleRate: number;
  AudioWorkletProcessor: new () => { readonly port: MessagePort };
  registerProcessor(name: string, processor: unknown): void;
}

/**
 * Registers the processor in an AudioWorkletGlobalScope (`processorOptions.chunkMs`, default 40).
 * Self-contained on purpose (see the module doc); runs only inside the worklet.
 */
export function registerMicProcessor(dsp: MicDsp, processorName: string): void {
  const scope = globalThis as unknown as WorkletScope;
  const encoders = new WeakMap<object, { push(channels: Float32Array[]): MicChunk[] }>();
  class MicProcessor extends scope.AudioWorkletProcessor {
    constructor(options?: { processorOptions?: { chunkMs?: number } }) {
      super();
      const chunkMs = options && options.processorOptions && options.processorOptions.chunkMs;
      encoders.set(this, dsp.createMicEncoder(scope.sampleRate, typeof chunkMs === "number" ? chunkMs : 40));
    }

    process(inputs: Float32Array[][]): boolean {
      const encoder = encoders.get(this);
      const channels = inputs[0];
      if (encoder && channels && channels.length > 0) {
        const chunks = encoder.push(channels);
        for (let i = 0; i < chunks.length; i++) this.port.postMessage(chunks[i], [chunks[i].pcm.buffer]);
      }
      // Keep running while the node exists, even through silence (no input connected yet).
      return true;
    }
  }
  scope.registerProcessor(processorName, MicProcessor);
}

/** The worklet module's source text (what `audioWorklet.addModule` loads). */
export function micWorkletSource(): string {
  return `(${registerMicProcessor.toString()})((${micDsp.toString()})(), ${
    JSON.stringify(MIC_PROCESSOR_NAME)
  });\n`;
}
