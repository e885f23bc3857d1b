import assert from "node:assert/strict";
import {
  addUsage,
  costUsd,
  DEFAULT_REALTIME_PRICES,
  emptyUsage,
  realtimePricesSchema,
  usageFromResponse,
} from "./usage.ts";

Deno.test("usage: response.done usage maps to token counts, cached tokens split by kind", () => {
  assert.deepEqual(
    usageFromResponse({
      total_tokens: 610,
      input_tokens: 300,
      output_tokens: 310,
      input_token_details: {
        text_tokens: 100,
        audio_tokens: 200,
        cached_tokens: 70,
        cached_tokens_details: { text_tokens: 50, audio_tokens: 20 },
      },
      output_token_details: { text_tokens: 10, audio_tokens: 300 },
    }),
    {
      inputTextTokens: 100,
      inputAudioTokens: 200,
      inputCachedTextTokens: 50,
      inputCachedAudioTokens: 20,
      outputTextTokens: 10,
      outputAudioTokens: 300,
      totalTokens: 610,
    },
  );
});

Deno.test("usage: missing details read as zero; cached tokens without a split go to text first", () => {
  assert.deepEqual(usageFromResponse({}), emptyUsage());
  const usage = usageFromResponse({
    input_token_details: { text_tokens: 30, audio_tokens: 100, cached_tokens: 50 },
  });
  assert.equal(usage.inputCachedTextTokens, 30);
  assert.equal(usage.inputCachedAudioTokens, 20);
  assert.equal(usage.totalTokens, 130);
});

Deno.test("usage: cost bills cached tokens at the cached rate and only the rest at the full rate", () => {
  const oneMillionEach = {
    ...emptyUsage(),
    inputTextTokens: 1_000_000,
    inputAudioTokens: 1_000_000,
    outputTextTokens: 1_000_000,
    outputAudioTokens: 1_000_000,
  };
  // Published gpt-realtime prices: text in 4, audio in 32, text out 16, audio out 64.
  assert.equal(costUsd(oneMillionEach), 4 + 32 + 16 + 64);
  const allCached = {
    ...oneMillionEach,
    inputCachedTextTokens: 1_000_000,
    inputCachedAudioTokens: 1_000_000,
  };
  assert.equal(costUsd(allCached), 0.4 + 0.4 + 16 + 64);
  const cheap = { ...DEFAULT_REALTIME_PRICES, audioOutput: 20 };
  assert.equal(costUsd({ ...emptyUsage(), outputAudioTokens: 500_000 }, cheap), 10);
  assert.equal(costUsd(emptyUsage()), 0);
});

Deno.test("usage: addUsage sums field by field", () => {
  const one = usageFromResponse({
    total_tokens: 3,
    input_token_details: { text_tokens: 1 },
    output_token_details: { audio_tokens: 2 },
  });
  assert.deepEqual(addUsage(one, one), {
    ...emptyUsage(),
    inputTextTokens: 2,
    outputAudioTokens: 4,
    totalTokens: 6,
  });
});

Deno.test("usage: a configured price table fills missing kinds with the defaults and refuses nonsense", () => {
  assert.deepEqual(realtimePricesSchema.parse({ audioOutput: 20 }), {
    ...DEFAULT_REALTIME_PRICES,
    audioOutput: 20,
  });
  assert.deepEqual(realtimePricesSchema.parse({}), DEFAULT_REALTIME_PRICES);
  assert.equal(realtimePricesSchema.safeParse({ audioOutput: -1 }).success, false);
  assert.equal(realtimePricesSchema.safeParse({ audioOut: 1 }).success, false);
});
