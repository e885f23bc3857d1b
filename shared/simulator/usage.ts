/**
 * Token accounting for `response.done.response.usage`, at the rates the relay's cost tracking assumes:
 * user audio about 10 tokens a second, assistant audio about 20, text about one token per 4 characters.
 * Every response bills the whole conversation again as input; the part that was already the input of
 * the previous response counts as cached (the live service caches only prompts of 1024+ tokens, in
 * 128-token steps; the simulator caches any unchanged prefix so short test conversations show it).
 *
 * @module
 */

/** Text and audio token counts. */
export interface TokenCounts {
  text: number;
  audio: number;
}

/** The `usage` object of a GA `response.done`. */
export interface ResponseUsage {
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  input_token_details: {
    text_tokens: number;
    audio_tokens: number;
    image_tokens: number;
    cached_tokens: number;
    cached_tokens_details: { text_tokens: number; audio_tokens: number; image_tokens: number };
  };
  output_token_details: { text_tokens: number; audio_tokens: number };
}

/** Tokens of a text (≈ characters / 4). */
export function textTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Tokens of user audio (≈ 10 per second). */
export function userAudioTokens(ms: number): number {
  return Math.ceil(ms / 100);
}

/** Tokens of assistant audio (≈ 20 per second), as output and later as input context. */
export function assistantAudioTokens(ms: number): number {
  return Math.ceil(ms / 50);
}

/** Builds the usage object; `cached` is clamped to `input`. */
export function responseUsage(input: TokenCounts, cached: TokenCounts, output: TokenCounts): ResponseUsage {
  const cachedText = Math.min(cached.text, input.text);
  const cachedAudio = Math.min(cached.audio, input.audio);
  const inputTokens = input.text + input.audio;
  const outputTokens = output.text + output.audio;
  return {
    total_tokens: inputTokens + outputTokens,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    input_token_details: {
      text_tokens: input.text,
      audio_tokens: input.audio,
      image_tokens: 0,
      cached_tokens: cachedText + cachedAudio,
      cached_tokens_details: { text_tokens: cachedText, audio_tokens: cachedAudio, image_tokens: 0 },
    },
    output_token_details: { text_tokens: output.text, audio_tokens: output.audio },
  };
}

/** Transcription usage as gpt-4o-transcribe models report it (tokens), or whisper-1 (duration). */
export function transcriptionUsage(model: string | undefined, audioMs: number, transcript: string): unknown {
  if (model === "whisper-1") return { type: "duration", seconds: Math.ceil(audioMs / 1000) };
  const audio = userAudioTokens(audioMs);
  const output = textTokens(transcript);
  return {
    type: "tokens",
    total_tokens: audio + output,
    input_tokens: audio,
    input_token_details: { text_tokens: 0, audio_tokens: audio },
    output_tokens: output,
  };
}
