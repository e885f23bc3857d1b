/**
 * Audio the simulator reads and writes: the API's three formats (24 kHz PCM16 little-endian, 8 kHz
 * G.711 μ-law and A-law), base64 in and out, and the synthetic assistant voice (a tone with a little
 * noise, so it is neither silence nor trivially compressible).
 *
 * @module
 */

/** The `format.type` values of the GA API. */
export type AudioFormatType = "audio/pcm" | "audio/pcmu" | "audio/pcma";

/** Samples per second of a format (PCM is always 24 kHz in the GA API; G.711 is 8 kHz). */
export function sampleRate(format: AudioFormatType): number {
  return format === "audio/pcm" ? 24_000 : 8_000;
}

/** Bytes per sample of a format. */
export function bytesPerSample(format: AudioFormatType): number {
  return format === "audio/pcm" ? 2 : 1;
}

/** Bytes of audio in one millisecond of a format (48 for PCM16 at 24 kHz, 8 for G.711). */
export function bytesPerMs(format: AudioFormatType): number {
  return (sampleRate(format) * bytesPerSample(format)) / 1000;
}

/**
 * Decodes standard base64 (padding optional, as `atob` allows). Returns undefined when `text` is not
 * base64, which the API answers with an error.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Encodes bytes as standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

/** Decoded length of a base64 string without decoding it (the echo path counts bytes this way). */
export function base64DecodedLength(text: string): number {
  let padding = 0;
  if (text.endsWith("==")) padding = 2;
  else if (text.endsWith("=")) padding = 1;
  return Math.max(0, Math.floor((text.length * 3) / 4) - padding);
}

/** G.711 μ-law byte to a linear 16-bit sample. */
export function muLawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

/** G.711 A-law byte to a linear 16-bit sample. */
export function aLawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  magnitude = Math.min(magnitude, 32767);
  return sign ? magnitude : -magnitude;
}

/** A linear 16-bit sample to a G.711 μ-law byte. */
export function linearToMuLaw(sample: number): number {
  const bias = 0x84;
  let s = Math.max(-32635, Math.min(32635, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += bias;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** A linear 16-bit sample to a G.711 A-law byte. */
export function linearToALaw(sample: number): number {
  let s = Math.max(-32767, Math.min(32767, Math.round(sample)));
  const sign = s >= 0 ? 0x80 : 0;
  if (s < 0) s = -s - 1;
  let byte: number;
  if (s < 256) {
    byte = s >> 4;
  } else {
    let exponent = 1;
    while (exponent < 7 && s >= 256 << exponent) exponent++;
    byte = (exponent << 4) | ((s >> (exponent + 3)) & 0x0f);
  }
  return (byte | sign) ^ 0x55;
}

/**
 * Turns raw input bytes into normalised samples (-1..1). PCM16 frames may split a sample across two
 * appends, so the caller keeps the odd byte in `carry` between calls.
 */
export class SampleDecoder {
  private carry: number | undefined;

  constructor(private readonly format: AudioFormatType) {}

  /** Decodes `bytes`, continuing a sample split by the previous call. */
  decode(bytes: Uint8Array): Float32Array {
    if (this.format === "audio/pcmu" || this.format === "audio/pcma") {
      const out = new Float32Array(bytes.length);
      const toLinear = this.format === "audio/pcmu" ? muLawToLinear : aLawToLinear;
      for (let i = 0; i < bytes.length; i++) out[i] = toLinear(bytes[i]) / 32768;
      return out;
    }
    let offset = 0;
    const first: number[] = [];
    if (this.carry !== undefined && bytes.length > 0) {
      first.push(toInt16(this.carry | (bytes[0] << 8)) / 32768);
      this.carry = undefined;
      offset = 1;
    }
    const whole = Math.floor((bytes.length - offset) / 2);
    const out = new Float32Array(first.length + whole);
    if (first.length) out[0] = first[0];
    for (let i = 0; i < whole; i++) {
      const lo = bytes[offset + i * 2];
      const hi = bytes[offset + i * 2 + 1];
      out[first.length + i] = toInt16(lo | (hi << 8)) / 32768;
    }
    if ((bytes.length - offset) % 2 === 1) this.carry = bytes[bytes.length - 1];
    return out;
  }
}

function toInt16(value: number): number {
  return value >= 0x8000 ? value - 0x10000 : value;
}

/**
 * One chunk of the synthetic assistant voice, `ms` long, in `format`: a 220 Hz tone (a whole number of
 * periods per 100 ms, so consecutive chunks join without clicks) plus light deterministic noise.
 */
export function synthesizeVoiceChunk(format: AudioFormatType, ms: number): Uint8Array {
  const rate = sampleRate(format);
  const samples = Math.round((rate * ms) / 1000);
  let noiseState = 0x2545f491;
  const linear = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    noiseState = (Math.imul(noiseState, 1664525) + 1013904223) >>> 0;
    const noise = (noiseState / 0xffffffff - 0.5) * 0.04;
    linear[i] = Math.round((Math.sin((2 * Math.PI * 220 * i) / rate) * 0.25 + noise) * 32767);
  }
  if (format === "audio/pcm") {
    const bytes = new Uint8Array(samples * 2);
    for (let i = 0; i < samples; i++) {
      bytes[i * 2] = linear[i] & 0xff;
      bytes[i * 2 + 1] = (linear[i] >> 8) & 0xff;
    }
    return bytes;
  }
  const encode = format === "audio/pcmu" ? linearToMuLaw : linearToALaw;
  return Uint8Array.from(linear, (s) => encode(s));
}
