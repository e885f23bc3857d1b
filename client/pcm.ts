/**
 * The wire's audio on the main thread: 24 kHz mono PCM16 little-endian, base64 in JSON events.
 *
 * @module
 */

/** The Realtime API's PCM rate (GA `audio/pcm`, beta `pcm16`). */
export const PCM_SAMPLE_RATE = 24_000;
/** Bytes in one millisecond of 24 kHz PCM16. */
export const PCM_BYTES_PER_MS = (PCM_SAMPLE_RATE * 2) / 1000;

/** Encodes bytes as standard base64 (what `input_audio_buffer.append` carries). */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

/** Decodes standard base64 (what `response.output_audio.delta` carries); throws on malformed input. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * PCM16 little-endian bytes to samples in -1..1 (a trailing odd byte, which a well-formed delta never
 * has, is ignored).
 */
export function pcm16ToFloat32(bytes: Uint8Array): Float32Array<ArrayBuffer> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 32768;
  return out;
}

/** Milliseconds of 24 kHz PCM16 in `byteLength` bytes. */
export function pcm16DurationMs(byteLength: number): number {
  return byteLength / PCM_BYTES_PER_MS;
}

/** Root mean square of samples in -1..1 (0 for none): the level a meter shows. */
export function rms(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let energy = 0;
  for (let i = 0; i < samples.length; i++) energy += samples[i] * samples[i];
  return Math.sqrt(energy / samples.length);
}
