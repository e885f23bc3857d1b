/**
 * Zod schemas for the upstream (OpenAI Realtime) server events the relay inspects, GA and beta
 * names alike. Objects are loose: the API adds fields over time and the relay forwards events as they
 * came, so only the fields read here are checked.
 *
 * @module
 */
import { z } from "zod";

/** A content part of a conversation item (`input_audio`, `output_audio`, `output_text`, beta `audio`/`text`...). */
export const contentPartSchema = z.looseObject({
  type: z.string(),
  text: z.string().nullish(),
  transcript: z.string().nullish(),
});
/** A content part of a conversation item. */
export type ContentPart = z.infer<typeof contentPartSchema>;

/** A conversation item (message, function call, ...), as carried by item and response events. */
export const conversationItemSchema = z.looseObject({
  id: z.string(),
  type: z.string(),
  role: z.string().optional(),
  status: z.string().optional(),
  content: z.array(contentPartSchema).optional(),
});
/** A conversation item. */
export type ConversationItem = z.infer<typeof conversationItemSchema>;

/** `input_audio_buffer.committed`: the user's audio became item `item_id`. */
export const inputAudioBufferCommittedSchema = z.looseObject({
  type: z.literal("input_audio_buffer.committed"),
  item_id: z.string(),
  previous_item_id: z.string().nullish(),
});
/** `input_audio_buffer.committed`. */
export type InputAudioBufferCommitted = z.infer<typeof inputAudioBufferCommittedSchema>;

/** Item added to the conversation: GA `conversation.item.added` / `.done`, beta `conversation.item.created`. */
export const conversationItemAddedTypes = [
  "conversation.item.added",
  "conversation.item.done",
  "conversation.item.created",
] as const;
/** An item entered (or finished in) the conversation. */
export const conversationItemAddedSchema = z.looseObject({
  type: z.enum(conversationItemAddedTypes),
  previous_item_id: z.string().nullish(),
  item: conversationItemSchema,
});
/** An item entered (or finished in) the conversation. */
export type ConversationItemAdded = z.infer<typeof conversationItemAddedSchema>;

/** `response.output_item.added` / `.done`: an item of a response (the assistant's turn). */
export const responseOutputItemSchema = z.looseObject({
  type: z.enum(["response.output_item.added", "response.output_item.done"]),
  response_id: z.string(),
  output_index: z.number().optional(),
  item: conversationItemSchema,
});
/** `response.output_item.added` / `.done`. */
export type ResponseOutputItem = z.infer<typeof responseOutputItemSchema>;

/** `conversation.item.input_audio_transcription.completed`: the user's turn as text. */
export const inputAudioTranscriptionCompletedSchema = z.looseObject({
  type: z.literal("conversation.item.input_audio_transcription.completed"),
  item_id: z.string(),
  content_index: z.number().optional(),
  transcript: z.string(),
});
/** `conversation.item.input_audio_transcription.completed`. */
export type InputAudioTranscriptionCompleted = z.infer<typeof inputAudioTranscriptionCompletedSchema>;

/** Assistant transcript/text chunks: GA names first, then beta. */
export const assistantTextDeltaTypes = [
  "response.output_audio_transcript.delta",
  "response.output_text.delta",
  "response.audio_transcript.delta",
  "response.text.delta",
] as const;
/** A chunk of the assistant's transcript or text. */
export const assistantTextDeltaSchema = z.looseObject({
  type: z.enum(assistantTextDeltaTypes),
  response_id: z.string(),
  item_id: z.string(),
  content_index: z.number().optional(),
  delta: z.string(),
});
/** A chunk of the assistant's transcript or text. */
export type AssistantTextDelta = z.infer<typeof assistantTextDeltaSchema>;

/** Final assistant transcript/text: GA names first, then beta. */
export const assistantTextDoneTypes = [
  "response.output_audio_transcript.done",
  "response.output_text.done",
  "response.audio_transcript.done",
  "response.text.done",
] as const;
/** The final transcript (`transcript`) or text (`text`) of one content part. */
export const assistantTextDoneSchema = z.looseObject({
  type: z.enum(assistantTextDoneTypes),
  response_id: z.string(),
  item_id: z.string(),
  content_index: z.number().optional(),
  transcript: z.string().optional(),
  text: z.string().optional(),
});
/** The final transcript or text of one content part. */
export type AssistantTextDone = z.infer<typeof assistantTextDoneSchema>;

/** `conversation.item.truncated`: the client cut the assistant's audio at `audio_end_ms` (barge-in). */
export const conversationItemTruncatedSchema = z.looseObject({
  type: z.literal("conversation.item.truncated"),
  item_id: z.string(),
  content_index: z.number().optional(),
  audio_end_ms: z.number().optional(),
});
/** `conversation.item.truncated`. */
export type ConversationItemTruncated = z.infer<typeof conversationItemTruncatedSchema>;

const tokenCount = z.number().nonnegative().optional();

/** `response.done.response.usage`; any field may be missing (read as 0). */
export const responseUsageSchema = z.looseObject({
  total_tokens: tokenCount,
  input_tokens: tokenCount,
  output_tokens: tokenCount,
  input_token_details: z.looseObject({
    text_tokens: tokenCount,
    audio_tokens: tokenCount,
    image_tokens: tokenCount,
    cached_tokens: tokenCount,
    cached_tokens_details: z.looseObject({
      text_tokens: tokenCount,
      audio_tokens: tokenCount,
      image_tokens: tokenCount,
    }).nullish(),
  }).nullish(),
  output_token_details: z.looseObject({
    text_tokens: tokenCount,
    audio_tokens: tokenCount,
  }).nullish(),
});
/** `response.done.response.usage`. */
export type ResponseUsage = z.infer<typeof responseUsageSchema>;

/**
 * `response.done`: the response finished; carries its final output items and usage. `status` is
 * `completed`, `cancelled` (barge-in: `status_details.reason: "turn_detected"`), `failed` or `incomplete`.
 */
export const responseDoneSchema = z.looseObject({
  type: z.literal("response.done"),
  response: z.looseObject({
    id: z.string(),
    status: z.string(),
    status_details: z.looseObject({ type: z.string().optional(), reason: z.string().nullish() }).nullish(),
    output: z.array(conversationItemSchema).nullish(),
    usage: responseUsageSchema.nullish(),
  }),
});
/** `response.done`. */
export type ResponseDone = z.infer<typeof responseDoneSchema>;
