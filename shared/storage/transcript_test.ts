import assert from "node:assert/strict";
import type { StoredMessage } from "./store.ts";
import { sampleUsage, turnIds, type UpstreamEvent, voiceTurnEvents } from "./test_events.ts";
import { TranscriptRecorder, type TranscriptWrite } from "./transcript.ts";
import { costUsd } from "./usage.ts";

const conversationId = "0b6f3c1e-5f0a-4a57-9d1c-2b8f2f7f6a10";
const userId = "7d2b0f7e-1c2d-4e3f-8a9b-0c1d2e3f4a5b";

function recorder(now: () => number = () => Date.parse("2026-11-21T10:00:00Z")): TranscriptRecorder {
  return new TranscriptRecorder({
    conversationId,
    userId,
    model: "gpt-realtime",
    voice: "marin",
    now,
    sessionId: "s-1",
  });
}

function feed(r: TranscriptRecorder, events: UpstreamEvent[]): TranscriptWrite[] {
  return events.flatMap((event) => r.observe(event));
}

function appended(writes: TranscriptWrite[]): StoredMessage[] {
  return writes.flatMap((w) => (w.kind === "append" ? [w.message] : []));
}

for (const dialect of ["ga", "beta"] as const) {
  for (const text of [false, true]) {
    Deno.test(`transcript: a ${dialect} turn answered in ${text ? "text" : "audio"} gives both messages`, () => {
      const r = recorder();
      const writes = feed(
        r,
        voiceTurnEvents({ n: 1, user: " Hello there ", assistant: "Hi! How can I help?", dialect, text }),
      );
      const messages = appended(writes);
      const ids = turnIds(1);
      // Written as they complete: the assistant at response.done, the user when transcription completes.
      assert.deepEqual(messages.map((m) => [m.role, m.content, m.itemId]), [
        ["assistant", "Hi! How can I help?", ids.assistantItem],
        ["user", "Hello there", ids.userItem],
      ]);
      const [assistant, user] = messages;
      assert.equal(
        user.createdAt < assistant.createdAt,
        true,
        "the user's item entered the conversation first",
      );
      assert.deepEqual(user.metadata, {
        input_method: "realtime_voice",
        model: "gpt-realtime",
        item_id: ids.userItem,
        session_id: "s-1",
      });
      assert.deepEqual(assistant.metadata, {
        input_method: "realtime_voice",
        model: "gpt-realtime",
        voice: "marin",
        item_id: ids.assistantItem,
        response_id: ids.response,
        interrupted: false,
        session_id: "s-1",
      });
      for (const m of messages) {
        assert.equal(m.conversationId, conversationId);
        assert.equal(m.userId, userId);
      }
    });
  }
}

Deno.test("transcript: a cancelled response keeps the partial text received, marked interrupted", () => {
  const r = recorder();
  const events = voiceTurnEvents({
    n: 1,
    user: "Tell me",
    assistant: "Once upon a time there was",
    status: "cancelled",
    partialChars: 9,
  });
  const [assistant] = appended(feed(r, events));
  assert.equal(assistant.role, "assistant");
  assert.equal(assistant.content, "Once upon");
  assert.equal(assistant.metadata.interrupted, true);
  assert.equal(assistant.metadata.interrupted_reason, "turn_detected");
});

Deno.test("transcript: the final transcript wins over deltas, the response output over deltas alone", () => {
  const r = recorder();
  const { response, assistantItem } = turnIds(1);
  feed(r, [
    {
      type: "response.output_item.added",
      response_id: response,
      item: { id: assistantItem, type: "message", role: "assistant" },
    },
    {
      type: "response.output_audio_transcript.delta",
      response_id: response,
      item_id: assistantItem,
      delta: "Hel",
    },
    {
      type: "response.output_audio_transcript.done",
      response_id: response,
      item_id: assistantItem,
      transcript: "Hello.",
    },
  ]);
  const [fromFinal] = appended(
    r.observe({ type: "response.done", response: { id: response, status: "completed" } }),
  );
  assert.equal(fromFinal.content, "Hello.");

  const other = turnIds(2);
  feed(r, [
    {
      type: "response.output_item.added",
      response_id: other.response,
      item: { id: other.assistantItem, type: "message", role: "assistant" },
    },
    {
      type: "response.output_audio_transcript.delta",
      response_id: other.response,
      item_id: other.assistantItem,
      delta: "Goo",
    },
  ]);
  const [fromOutput] = appended(r.observe({
    type: "response.done",
    response: {
      id: other.response,
      status: "completed",
      output: [{
        id: other.assistantItem,
        type: "message",
        role: "assistant",
        content: [{ type: "output_audio", transcript: "Goodbye." }],
      }],
    },
  }));
  assert.equal(fromOutput.content, "Goodbye.");
});

Deno.test("transcript: truncation after the write marks it interrupted once; before, the append carries it", () => {
  const r = recorder();
  const ids = turnIds(1);
  feed(r, voiceTurnEvents({ n: 1, user: "Hi", assistant: "A long answer" }));
  const truncated = {
    type: "conversation.item.truncated",
    item_id: ids.assistantItem,
    content_index: 0,
    audio_end_ms: 1200,
  };
  const updates = r.observe(truncated);
  assert.equal(updates.length, 1);
  const update = updates[0];
  assert.equal(update.kind, "update_metadata");
  if (update.kind !== "update_metadata") return;
  assert.equal(update.itemId, ids.assistantItem);
  assert.equal(update.conversationId, conversationId);
  assert.equal(update.metadata.interrupted, true);
  assert.equal(update.metadata.interrupted_reason, "truncated");
  assert.equal(update.metadata.audio_end_ms, 1200);
  assert.equal(update.metadata.voice, "marin", "the rest of the metadata is kept");
  assert.deepEqual(r.observe(truncated), [], "a second truncation changes nothing");

  // Truncated before its response is done (the client cut playback early).
  const two = turnIds(2);
  const events = voiceTurnEvents({ n: 2, user: "Wait", assistant: "Sure, here it" });
  const doneAt = events.findIndex((e) => e.type === "response.done");
  feed(r, events.slice(0, doneAt));
  assert.deepEqual(r.observe({ ...truncated, item_id: two.assistantItem, audio_end_ms: 300 }), []);
  const [assistant] = appended(feed(r, events.slice(doneAt)));
  assert.equal(assistant.itemId, two.assistantItem);
  assert.equal(assistant.metadata.interrupted, true);
  assert.equal(assistant.metadata.interrupted_reason, "truncated");
  assert.equal(assistant.metadata.audio_end_ms, 300);
});

Deno.test("transcript: finish() returns an unfinished answer once, with its partial text", () => {
  const r = recorder();
  const events = voiceTurnEvents({ n: 1, user: "Hi", assistant: "Interrupted by shutdown" });
  const doneIndex = events.findIndex((e) => e.type === "response.output_audio_transcript.done");
  assert.deepEqual(appended(feed(r, events.slice(0, doneIndex))), []);
  const [assistant] = appended(r.finish());
  assert.equal(assistant.content, "Interrupted by shutdown");
  assert.equal(assistant.metadata.interrupted, true);
  assert.equal(assistant.metadata.interrupted_reason, "session_ended");
  assert.deepEqual(r.finish(), []);
  assert.deepEqual(
    appended(feed(r, events.slice(doneIndex))).map((m) => m.role),
    ["user"],
    "not written twice",
  );
});

Deno.test("transcript: createdAt strictly increases in conversation order, whatever the clock does", () => {
  const times = [5_000, 5_000, 4_000, 4_000, 5_000, 5_000, 5_000, 5_000];
  let i = 0;
  const r = recorder(() => times[Math.min(i++, times.length - 1)]);
  const messages = appended(feed(r, [
    ...voiceTurnEvents({ n: 1, user: "one", assistant: "two" }),
    ...voiceTurnEvents({ n: 2, user: "three", assistant: "four" }),
  ]));
  const ordered = [...messages].sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
  assert.deepEqual(ordered.map((m) => m.content), ["one", "two", "three", "four"]);
  assert.equal(new Set(messages.map((m) => m.createdAt)).size, 4);
  for (const m of messages) assert.match(m.createdAt, /^1970-01-01T00:00:05\.\d{6}Z$/);
});

Deno.test("transcript: usage accumulates over response.done events and prices at gpt-realtime rates", () => {
  const r = recorder();
  feed(r, voiceTurnEvents({ n: 1, user: "a", assistant: "b" }));
  feed(r, voiceTurnEvents({ n: 2, user: "c", assistant: "d", status: "cancelled" }));
  assert.deepEqual(r.usage(), {
    inputTextTokens: 200,
    inputAudioTokens: 400,
    inputCachedTextTokens: 100,
    inputCachedAudioTokens: 40,
    outputTextTokens: 20,
    outputAudioTokens: 600,
    totalTokens: 1220,
  });
  // (100*4 + 100*0.4 + 360*32 + 40*0.4 + 20*16 + 600*64) / 1e6
  assert.equal(costUsd(r.usage()).toFixed(8), "0.05069600");
  assert.equal(sampleUsage().total_tokens, 610);
});

Deno.test("transcript: empty transcripts, duplicates, malformed and unrelated events write nothing", () => {
  const r = recorder();
  const ids = turnIds(1);
  assert.deepEqual(r.observe({ type: "response.output_audio.delta", delta: "AAAA" }), []);
  assert.deepEqual(r.observe({ type: "session.updated", session: {} }), []);
  assert.deepEqual(
    r.observe({
      type: "conversation.item.input_audio_transcription.completed",
      item_id: "item_x",
      transcript: "  ",
    }),
    [],
  );
  assert.deepEqual(
    r.observe({ type: "conversation.item.input_audio_transcription.completed", item_id: 42 }),
    [],
  );
  assert.deepEqual(r.observe({ type: "response.done", response: "nope" }), []);
  assert.equal(r.malformedEvents, 2);
  const completed = {
    type: "conversation.item.input_audio_transcription.completed",
    item_id: ids.userItem,
    transcript: "hi",
  };
  assert.equal(r.observe(completed).length, 1);
  assert.deepEqual(r.observe(completed), [], "a repeated event is not written twice");
  // A response that only called a function has no message to store.
  assert.deepEqual(
    feed(r, [
      {
        type: "response.output_item.added",
        response_id: "resp_f",
        item: { id: "item_f", type: "function_call" },
      },
      {
        type: "response.done",
        response: { id: "resp_f", status: "completed", output: [{ id: "item_f", type: "function_call" }] },
      },
    ]),
    [],
  );
});
