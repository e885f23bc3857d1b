/**
 * The GA client events the simulator accepts, as zod schemas, and the parser that turns a text frame
 * into a validated event or into the error the API would send for it. Objects are strict where the API
 * is strict (unknown or retired beta fields such as `session.voice` or `session.modalities` are refused
 * with `unknown_parameter`), and loose where the API accepts open-ended configuration (tools, prompts).
 *
 * @module
 */
import { z } from "zod";
import { REALTIME_VOICES } from "../protocol/voices.ts";
import { type ApiError, apiError, errorFromZod } from "./api_error.ts";

/** The ten voices of the GA API. */
export const voices = REALTIME_VOICES;

/** Client event types of the GA API, in the order the API lists them in its errors. */
export const clientEventTypes = [
  "session.update",
  "input_audio_buffer.append",
  "input_audio_buffer.commit",
  "input_audio_buffer.clear",
  "output_audio_buffer.clear",
  "conversation.item.create",
  "conversation.item.retrieve",
  "conversation.item.truncate",
  "conversation.item.delete",
  "response.create",
  "response.cancel",
] as const;

const eventId = z.string().optional();

/** `{type: "audio/pcm", rate: 24000}`, `{type: "audio/pcmu"}` or `{type: "audio/pcma"}`. */
export const audioFormatSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("audio/pcm"), rate: z.literal(24000).optional() }),
  z.strictObject({ type: z.literal("audio/pcmu") }),
  z.strictObject({ type: z.literal("audio/pcma") }),
]);

const serverVadSchema = z.strictObject({
  type: z.literal("server_vad"),
  threshold: z.number().min(0).max(1).optional(),
  prefix_padding_ms: z.int().min(0).optional(),
  silence_duration_ms: z.int().min(0).optional(),
  idle_timeout_ms: z.int().min(0).nullable().optional(),
  create_response: z.boolean().optional(),
  interrupt_response: z.boolean().optional(),
  model_version: z.string().optional(),
});

const semanticVadSchema = z.strictObject({
  type: z.literal("semantic_vad"),
  eagerness: z.enum(["low", "medium", "high", "auto"]).optional(),
  create_response: z.boolean().optional(),
  interrupt_response: z.boolean().optional(),
  model_version: z.string().optional(),
});

/** `audio.input.turn_detection`: server VAD, semantic VAD, or null (the client commits and asks for responses). */
export const turnDetectionSchema = z.discriminatedUnion("type", [serverVadSchema, semanticVadSchema])
  .nullable();

/** `audio.input.transcription`: loose, the API keeps adding options (language, prompt, delay, keywords...). */
export const transcriptionSchema = z.looseObject({
  model: z.string().optional(),
  language: z.string().nullable().optional(),
  prompt: z.string().nullable().optional(),
}).nullable();

/** The GA `session` object of `session.update` (type "realtime"). */
export const sessionUpdateSchema = z.strictObject({
  type: z.literal("realtime"),
  model: z.string().optional(),
  instructions: z.string().optional(),
  output_modalities: z.array(z.enum(["text", "audio"])).min(1).max(1).optional(),
  audio: z.strictObject({
    input: z.strictObject({
      format: audioFormatSchema.optional(),
      transcription: transcriptionSchema.optional(),
      noise_reduction: z.looseObject({ type: z.enum(["near_field", "far_field"]).optional() }).nullable()
        .optional(),
      turn_detection: turnDetectionSchema.optional(),
    }).optional(),
    output: z.strictObject({
      format: audioFormatSchema.optional(),
      voice: z.union([z.enum(voices), z.strictObject({ id: z.string() })]).optional(),
      speed: z.number().min(0.25).max(1.5).optional(),
    }).optional(),
  }).optional(),
  tools: z.array(z.looseObject({ type: z.string() })).optional(),
  tool_choice: z.union([z.string(), z.looseObject({ type: z.string() })]).optional(),
  max_output_tokens: z.union([z.int().min(1).max(4096), z.literal("inf")]).optional(),
  tracing: z.union([z.literal("auto"), z.looseObject({})]).nullable().optional(),
  truncation: z.union([z.enum(["auto", "disabled"]), z.looseObject({ type: z.string() })]).optional(),
  prompt: z.looseObject({ id: z.string() }).nullable().optional(),
  include: z.array(z.literal("item.input_audio_transcription.logprobs")).nullable().optional(),
  parallel_tool_calls: z.boolean().optional(),
  reasoning: z.looseObject({}).optional(),
});

/** A validated `session.update` payload. */
export type SessionUpdate = z.infer<typeof sessionUpdateSchema>;

const itemCommon = {
  id: z.string().min(1).max(64).optional(),
  object: z.literal("realtime.item").optional(),
  status: z.enum(["completed", "incomplete", "in_progress"]).optional(),
};

const messageItemSchema = z.discriminatedUnion("role", [
  z.strictObject({
    ...itemCommon,
    type: z.literal("message"),
    role: z.literal("user"),
    content: z.array(z.discriminatedUnion("type", [
      z.strictObject({ type: z.literal("input_text"), text: z.string() }),
      z.strictObject({
        type: z.literal("input_audio"),
        audio: z.string().optional(),
        transcript: z.string().nullable().optional(),
      }),
      z.strictObject({
        type: z.literal("input_image"),
        image_url: z.string(),
        detail: z.enum(["auto", "low", "high"]).optional(),
      }),
    ])),
  }),
  z.strictObject({
    ...itemCommon,
    type: z.literal("message"),
    role: z.literal("system"),
    content: z.array(z.strictObject({ type: z.literal("input_text"), text: z.string() })),
  }),
  // The API cannot seed assistant audio ("cannot populate assistant audio messages"): text only.
  z.strictObject({
    ...itemCommon,
    type: z.literal("message"),
    role: z.literal("assistant"),
    content: z.array(z.strictObject({ type: z.literal("output_text"), text: z.string() })),
  }),
]);

/** An item a client may add with `conversation.item.create`. */
export const conversationItemSchema = z.discriminatedUnion("type", [
  messageItemSchema,
  z.strictObject({
    ...itemCommon,
    type: z.literal("function_call"),
    call_id: z.string(),
    name: z.string(),
    arguments: z.string(),
  }),
  z.strictObject({
    ...itemCommon,
    type: z.literal("function_call_output"),
    call_id: z.string(),
    output: z.string(),
  }),
]);

/** A validated client item. */
export type ClientItem = z.infer<typeof conversationItemSchema>;

/** `response.create`'s optional `response`: the fields the simulator uses are typed, the rest pass. */
export const responseCreateParamsSchema = z.looseObject({
  conversation: z.string().optional(),
  instructions: z.string().optional(),
  output_modalities: z.array(z.enum(["text", "audio"])).min(1).max(1).optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  max_output_tokens: z.union([z.int().min(1).max(4096), z.literal("inf")]).optional(),
});

const clientEventSchemas = {
  "session.update": z.strictObject({
    type: z.literal("session.update"),
    event_id: eventId,
    session: sessionUpdateSchema,
  }),
  "input_audio_buffer.append": z.strictObject({
    type: z.literal("input_audio_buffer.append"),
    event_id: eventId,
    audio: z.string(),
  }),
  "input_audio_buffer.commit": z.strictObject({
    type: z.literal("input_audio_buffer.commit"),
    event_id: eventId,
  }),
  "input_audio_buffer.clear": z.strictObject({
    type: z.literal("input_audio_buffer.clear"),
    event_id: eventId,
  }),
  "output_audio_buffer.clear": z.strictObject({
    type: z.literal("output_audio_buffer.clear"),
    event_id: eventId,
  }),
  "conversation.item.create": z.strictObject({
    type: z.literal("conversation.item.create"),
    event_id: eventId,
    previous_item_id: z.string().nullable().optional(),
    item: conversationItemSchema,
  }),
  "conversation.item.retrieve": z.strictObject({
    type: z.literal("conversation.item.retrieve"),
    event_id: eventId,
    item_id: z.string(),
  }),
  "conversation.item.truncate": z.strictObject({
    type: z.literal("conversation.item.truncate"),
    event_id: eventId,
    item_id: z.string(),
    content_index: z.int().min(0),
    audio_end_ms: z.int().min(0),
  }),
  "conversation.item.delete": z.strictObject({
    type: z.literal("conversation.item.delete"),
    event_id: eventId,
    item_id: z.string(),
  }),
  "response.create": z.strictObject({
    type: z.literal("response.create"),
    event_id: eventId,
    response: responseCreateParamsSchema.optional(),
  }),
  "response.cancel": z.strictObject({
    type: z.literal("response.cancel"),
    event_id: eventId,
    response_id: z.string().optional(),
  }),
} as const;

/** Every validated client event. */
export type ClientEvent = { [K in keyof typeof clientEventSchemas]: z.infer<(typeof clientEventSchemas)[K]> }[
  keyof typeof clientEventSchemas
];

/** What {@link parseClientEvent} made of a frame: the parsed JSON (when it was JSON) and the event or error. */
export type ParsedClientFrame =
  | { ok: true; json: Record<string, unknown>; event: ClientEvent }
  | { ok: false; json: unknown; error: ApiError };

function isClientEventType(type: string): type is keyof typeof clientEventSchemas {
  return Object.hasOwn(clientEventSchemas, type);
}

/** Validates an already parsed client event (the echo path parses its own fast way first). */
export function validateClientEvent(json: unknown): ParsedClientFrame {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return {
      ok: false,
      json,
      error: apiError("invalid_event", "Expected the client event to be a JSON object."),
    };
  }
  const record = json as Record<string, unknown>;
  const clientEventId = typeof record.event_id === "string" ? record.event_id : null;
  const type = record.type;
  if (type === undefined) {
    return {
      ok: false,
      json,
      error: apiError("invalid_event", "The 'type' field is missing.", { eventId: clientEventId }),
    };
  }
  if (typeof type !== "string" || !isClientEventType(type)) {
    const supported = clientEventTypes.map((t) => `'${t}'`);
    return {
      ok: false,
      json,
      error: apiError(
        "invalid_value",
        `Invalid value: '${String(type)}'. Supported values are: ${supported.slice(0, -1).join(", ")}, and ${
          supported[supported.length - 1]
        }.`,
        { param: "type", eventId: clientEventId },
      ),
    };
  }
  const result = clientEventSchemas[type].safeParse(json);
  if (!result.success) {
    return { ok: false, json, error: errorFromZod(result.error, json, "", clientEventId) };
  }
  return { ok: true, json: record, event: result.data as ClientEvent };
}

/** Parses and validates one text frame from a client. */
export function parseClientEvent(text: string): ParsedClientFrame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      json: undefined,
      error: apiError("invalid_json", `The client event is not valid JSON: ${detail}`),
    };
  }
  return validateClientEvent(json);
}
