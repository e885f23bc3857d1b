/**
 * The benchmark's audio frames: 20 ms of 24 kHz PCM16 sent as `input_audio_buffer.append`, with the
 * session index, a sequence number and the send time written into the first PCM bytes, so the echoed
 * `response.output_audio.delta` (which carries the same base64 string) can be matched and timed without
 * parsing JSON. Runs on Node and on Deno (the load generator may run on either).
 *
 * @module
 */

/** Bytes of PCM16 in one frame: 20 ms at 24 kHz, mono, 2 bytes a sample. */
export const framePcmBytes = 960;
/** Milliseconds of audio in one frame; frames are sent at this interval. */
export const frameIntervalMs = 20;
/** Base64 length of one frame's audio. */
export const frameAudioBase64Chars = (framePcmBytes / 3) * 4;

// 18 bytes = 6 base64 quanta, so the header encodes to exactly 24 characters and the rest of the audio's
// base64 never changes: session u32, seq u32, send time f64 (ms), 2 spare bytes.
const headerBytes = 18;
const headerChars = 24;
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const encodeTable = new Uint8Array(64).map((_, i) => alphabet.charCodeAt(i));
const decodeTable = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) decodeTable[alphabet.charCodeAt(i)] = i;

const appendPrefix = '{"type":"input_audio_buffer.append","audio":"';
const deltaType = '{"type":"response.output_audio.delta"';
const deltaKey = '"delta":"';
const deltaTypeBytes = new TextEncoder().encode(deltaType);
const deltaKeyBytes = new TextEncoder().encode(deltaKey);

/** What {@link readEchoHeader} found in an echoed frame. */
export interface FrameHeader {
  session: number;
  seq: number;
  /** The sender's clock (`performance.now()`) when the frame was sent. */
  sentAt: number;
}

const scratch = new Uint8Array(headerBytes);
const scratchView = new DataView(scratch.buffer);

function base64Of(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63];
  }
  return out;
}

/** A quiet 440 Hz tone: the frame body (after the header) is real-looking PCM16, the same in every frame. */
function tonePcm(): Uint8Array {
  const pcm = new Uint8Array(framePcmBytes);
  const view = new DataView(pcm.buffer);
  for (let i = 0; i < framePcmBytes / 2; i++) {
    view.setInt16(i * 2, Math.round(2000 * Math.sin((2 * Math.PI * 440 * i) / 24_000)), true);
  }
  return pcm;
}

/** Builds append frames as UTF-8 bytes from one template; only the 24 header characters change. */
export class FrameEncoder {
  private readonly template: Uint8Array;
  private readonly headerOffset: number;

  constructor() {
    const text = `${appendPrefix}${base64Of(tonePcm())}"}`;
    this.template = new TextEncoder().encode(text);
    this.headerOffset = appendPrefix.length;
  }

  /** Length in bytes of every frame this encoder builds. */
  get frameBytes(): number {
    return this.template.length;
  }

  /** A fresh frame (the caller's socket may keep it queued, so it is never reused). */
  encode(session: number, seq: number, sentAt: number): Uint8Array {
    const frame = this.template.slice();
    scratchView.setUint32(0, session);
    scratchView.setUint32(4, seq);
    scratchView.setFloat64(8, sentAt);
    let at = this.headerOffset;
    for (let i = 0; i < headerBytes; i += 3) {
      const n = (scratch[i] << 16) | (scratch[i + 1] << 8) | scratch[i + 2];
      frame[at++] = encodeTable[n >> 18];
      frame[at++] = encodeTable[(n >> 12) & 63];
      frame[at++] = encodeTable[(n >> 6) & 63];
      frame[at++] = encodeTable[n & 63];
    }
    return frame;
  }
}

function startsWithAt(bytes: Uint8Array, pattern: Uint8Array, at: number): boolean {
  if (at < 0 || at + pattern.length > bytes.length) return false;
  for (let i = 0; i < pattern.length; i++) if (bytes[at + i] !== pattern[i]) return false;
  return true;
}

/**
 * Reads the header out of an echoed `response.output_audio.delta` (UTF-8 bytes) into `into`. The echo
 * puts `delta` last, so the audio is the final {@link frameAudioBase64Chars} characters before `"}`.
 * Returns false for any other frame (the caller parses those as JSON).
 */
export function readEchoHeader(bytes: Uint8Array, into: FrameHeader): boolean {
  if (!startsWithAt(bytes, deltaTypeBytes, 0)) return false;
  const audioStart = bytes.length - 2 - frameAudioBase64Chars;
  if (!startsWithAt(bytes, deltaKeyBytes, audioStart - deltaKeyBytes.length)) return false;
  let out = 0;
  for (let i = 0; i < headerChars; i += 4) {
    const a = decodeTable[bytes[audioStart + i]];
    const b = decodeTable[bytes[audioStart + i + 1]];
    const c = decodeTable[bytes[audioStart + i + 2]];
    const d = decodeTable[bytes[audioStart + i + 3]];
    if ((a | b | c | d) < 0) return false;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    scratch[out++] = n >> 16;
    scratch[out++] = (n >> 8) & 255;
    scratch[out++] = n & 255;
  }
  into.session = scratchView.getUint32(0);
  into.seq = scratchView.getUint32(4);
  into.sentAt = scratchView.getFloat64(8);
  return true;
}
