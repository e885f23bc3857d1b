/**
 * Token usage per session and what it costs: sums `response.done` usage and prices it.
 *
 * @module
 */
import { z } from "zod";
import type { ResponseUsage } from "../protocol/events.ts";
import type { TokenUsage } from "./store.ts";

/** USD per 1M tokens, by kind. Cached input is billed at its own rate instead of the input rate. */
export interface RealtimePrices {
  textInput: number;
  cachedTextInput: number;
  textOutput: number;
  audioInput: number;
  cachedAudioInput: number;
  audioOutput: number;
}

/** Published gpt-realtime prices (USD per 1M tokens). */
export const DEFAULT_REALTIME_PRICES: Readonly<RealtimePrices> = Object.freeze({
  textInput: 4,
  cachedTextInput: 0.4,
  textOutput: 16,
  audioInput: 32,
  cachedAudioInput: 0.4,
  audioOutput: 64,
});

const price = z.number().nonnegative();

/**
 * A price table from configuration (e.g. JSON in an environment variable): any subset of
 * {@link RealtimePrices}; missing kinds take the defaults.
 */
export const realtimePricesSchema: z.ZodType<RealtimePrices, Partial<RealtimePrices>> = z.strictObject({
  textInput: price.default(DEFAULT_REALTIME_PRICES.textInput),
  cachedTextInput: price.default(DEFAULT_REALTIME_PRICES.cachedTextInput),
  textOutput: price.default(DEFAULT_REALTIME_PRICES.textOutput),
  audioInput: price.default(DEFAULT_REALTIME_PRICES.audioInput),
  cachedAudioInput: price.default(DEFAULT_REALTIME_PRICES.cachedAudioInput),
  audioOutput: price.default(DEFAULT_REALTIME_PRICES.audioOutput),
});

/** All counts zero. */
export function emptyUsage(): TokenUsage {
  return {
    inputTextTokens: 0,
    inputAudioTokens: 0,
    inputCachedTextTokens: 0,
    inputCachedAudioTokens: 0,
    outputTextTokens: 0,
    outputAudioTokens: 0,
    totalTokens: 0,
  };
}

/**
 * Converts one `response.done.response.usage` to {@link TokenUsage}. When the API reports
 * `cached_tokens` without the text/audio split, the cached tokens are attributed to text first (up to the
 * text input count), the rest to audio; that bills them at the cached rate either way.
 */
export function usageFromResponse(usage: ResponseUsage): TokenUsage {
  const input = usage.input_token_details ?? {};
  const output = usage.output_token_details ?? {};
  const inputText = input.text_tokens ?? 0;
  const inputAudio = input.audio_tokens ?? 0;
  let cachedText: number;
  let cachedAudio: number;
  if (input.cached_tokens_details) {
    cachedText = input.cached_tokens_details.text_tokens ?? 0;
    cachedAudio = input.cached_tokens_details.audio_tokens ?? 0;
  } else {
    const cached = input.cached_tokens ?? 0;
    cachedText = Math.min(cached, inputText);
    cachedAudio = Math.min(cached - cachedText, inputAudio);
  }
  const outputText = output.text_tokens ?? 0;
  const outputAudio = output.audio_tokens ?? 0;
  return {
    inputTextTokens: inputText,
    inputAudioTokens: inputAudio,
    inputCachedTextTokens: cachedText,
    inputCachedAudioTokens: cachedAudio,
    outputTextTokens: outputText,
    outputAudioTokens: outputAudio,
    totalTokens: usage.total_tokens ?? (usage.input_tokens ?? inputText + inputAudio) +
        (usage.output_tokens ?? outputText + outputAudio),
  };
}

/** `a + b`, field by field. */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    inputTextTokens: a.inputTextTokens + b.inputTextTokens,
    inputAudioTokens: a.inputAudioTokens + b.inputAudioTokens,
    inputCachedTextTokens: a.inputCachedTextTokens + b.inputCachedTextTokens,
    inputCachedAudioTokens: a.inputCachedAudioTokens + b.inputCachedAudioTokens,
    outputTextTokens: a.outputTextTokens + b.outputTextTokens,
    outputAudioTokens: a.outputAudioTokens + b.outputAudioTokens,
    totalTokens: a.totalTokens + b.totalTokens,
  };
}

/**
 * Cost in USD. Cached tokens are a subset of the input tokens: they are billed at the cached rate and
 * only the remaining input tokens at the full rate. Not rounded (the column keeps 6 decimals).
 */
export function costUsd(usage: TokenUsage, prices: RealtimePrices = DEFAULT_REALTIME_PRICES): number {
  const uncachedText = Math.max(0, usage.inputTextTokens - usage.inputCachedTextTokens);
  const uncachedAudio = Math.max(0, usage.inputAudioTokens - usage.inputCachedAudioTokens);
  const perMillion = uncachedText * prices.textInput +
    usage.inputCachedTextTokens * prices.cachedTextInput +
    uncachedAudio * prices.audioInput +
    usage.inputCachedAudioTokens * prices.cachedAudioInput +
    usage.outputTextTokens * prices.textOutput +
    usage.outputAudioTokens * prices.audioOutput;
  return perMillion / 1_000_000;
}
