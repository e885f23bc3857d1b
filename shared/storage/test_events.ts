/**
 * Test fixtures: the upstream event sequence of one voice turn, in the GA or the beta naming, the way
 * the Realtime API orders it (the user's transcript completes after the assistant has answered).
 * Shared by the transcript, store and database-down tests.
 *
 * @module
 */

/** A parsed upstream event. */
export type UpstreamEvent = { type: string } & Record<string, unknown>;

/** Describes one turn for {@link voiceTurnEvents}. */
export interface VoiceTurn {
  /** Distinguishes ids between turns. */
  n: number;
  user: string;
  assistant: string;
  /** Event names; default GA. */
  dialect?: "ga" | "beta";
  /**
   * `completed` (default); `cancelled`: barge-in, only `partialChars` of the assistant's text arrive as
   * deltas, no final transcript, `response.done` with status cancelled and no transcript in its output.
   */
  status?: "completed" | "cancelled";
  partialChars?: number;
  /** The assistant answers in text (`output_text`) instead of audio. */
  text?: boolean;
}

/** Item and response ids of a turn. */
export function turnIds(n: number): { userItem: string; assistantItem: string; response: string } {
  return { userItem: `item_user_${n}`, assistantItem: `item_asst_${n}`, response: `resp_${n}` };
}

/** A usage object as `response.done` carries it: 100 text + 200 audio in (50/20 cached), 10 text + 300 audio out. */
export function sampleUsage(): Record<string, unknown> {
  return {
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
  };
}

/** The events of one turn, in arrival order. */
export function voiceTurnEvents(turn: VoiceTurn): UpstreamEvent[] {
  const ga = (turn.dialect ?? "ga") === "ga";
  const { userItem, assistantItem, response } = turnIds(turn.n);
  const cancelled = turn.status === "cancelled";
  const spoken = cancelled ? turn.assistant.slice(0, turn.partialChars ?? 5) : turn.assistant;
  const kind = turn.text ? "text" : "transcript";
  const deltaType = turn.text
    ? (ga ? "response.output_text.delta" : "response.text.delta")
    : (ga ? "response.output_audio_transcript.delta" : "response.audio_transcript.delta");
  const doneType = turn.text
    ? (ga ? "response.output_text.done" : "response.text.done")
    : (ga ? "response.output_audio_transcript.done" : "response.audio_transcript.done");
  const itemAdded = ga ? "conversation.item.added" : "conversation.item.created";
  const assistantItemBody = {
    id: assistantItem,
    type: "message",
    role: "assistant",
    status: "in_progress",
    content: [],
  };
  const events: UpstreamEvent[] = [
    { type: "input_audio_buffer.speech_started", item_id: userItem, audio_start_ms: 100 },
    { type: "input_audio_buffer.speech_stopped", item_id: userItem, audio_end_ms: 900 },
    { type: "input_audio_buffer.committed", item_id: userItem, previous_item_id: null },
    {
      type: itemAdded,
      previous_item_id: null,
      item: {
        id: userItem,
        type: "message",
        role: "user",
        content: [{ type: "input_audio", transcript: null }],
      },
    },
    { type: "response.created", response: { id: response, status: "in_progress", output: [] } },
    { type: "response.output_item.added", response_id: response, output_index: 0, item: assistantItemBody },
  ];
  if (ga) {
    events.push({ type: "conversation.item.added", previous_item_id: userItem, item: assistantItemBody });
  }
  events.push({ type: ga ? "response.output_audio.delta" : "response.audio.delta", delta: "AAAA" });
  // Deltas in chunks of 4 characters.
  for (let i = 0; i < spoken.length; i += 4) {
    events.push({
      type: deltaType,
      response_id: response,
      item_id: assistantItem,
      output_index: 0,
      content_index: 0,
      delta: spoken.slice(i, i + 4),
    });
  }
  if (!cancelled) {
    events.push({
      type: doneType,
      response_id: response,
      item_id: assistantItem,
      output_index: 0,
      content_index: 0,
      [kind === "text" ? "text" : "transcript"]: turn.assistant,
    });
  }
  const contentType = turn.text ? (ga ? "output_text" : "text") : (ga ? "output_audio" : "audio");
  events.push({
    type: "response.done",
    response: {
      id: response,
      status: cancelled ? "cancelled" : "completed",
      status_details: cancelled ? { type: "cancelled", reason: "turn_detected" } : null,
      output: [{
        id: assistantItem,
        type: "message",
        role: "assistant",
        status: cancelled ? "incomplete" : "completed",
        content: [
          turn.text
            ? { type: contentType, text: cancelled ? null : turn.assistant }
            : { type: contentType, transcript: cancelled ? null : turn.assistant },
        ],
      }],
      usage: sampleUsage(),
    },
  });
  // The user's transcript completes last, after the assistant's whole response.
  events.push({
    type: "conversation.item.input_audio_transcription.completed",
    item_id: userItem,
    content_index: 0,
    transcript: turn.user,
  });
  return events;
}
