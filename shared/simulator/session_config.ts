/**
 * The GA session object the simulator reports in `session.created` / `session.updated`, its defaults,
 * and how a validated `session.update` changes it (fields present replace, absent ones stay).
 *
 * @module
 */
import type { z } from "zod";
import { type ApiError, apiError } from "./api_error.ts";
import type {
  audioFormatSchema,
  SessionUpdate,
  transcriptionSchema,
  turnDetectionSchema,
} from "./client_events.ts";
import type { AudioFormatType } from "./pcm_audio.ts";

/** An audio format as the session reports it (`rate` always present for PCM). */
export type SessionAudioFormat = { type: "audio/pcm"; rate: 24000 } | { type: "audio/pcmu" } | {
  type: "audio/pcma";
};

/** Turn detection as the session reports it, defaults filled in. */
export type SessionTurnDetection =
  | {
    type: "server_vad";
    threshold: number;
    prefix_padding_ms: number;
    silence_duration_ms: number;
    idle_timeout_ms: number | null;
    create_response: boolean;
    interrupt_response: boolean;
  }
  | {
    type: "semantic_vad";
    eagerness: "low" | "medium" | "high" | "auto";
    create_response: boolean;
    interrupt_response: boolean;
  };

/** The GA `session` object (type "realtime"). */
export interface SimulatedSession {
  type: "realtime";
  object: "realtime.session";
  id: string;
  model: string;
  output_modalities: Array<"text" | "audio">;
  instructions: string;
  tools: unknown[];
  tool_choice: unknown;
  max_output_tokens: number | "inf";
  tracing: unknown;
  truncation: unknown;
  prompt: unknown;
  expires_at: number;
  audio: {
    input: {
      format: SessionAudioFormat;
      transcription: z.infer<typeof transcriptionSchema>;
      noise_reduction: unknown;
      turn_detection: SessionTurnDetection | null;
    };
    output: {
      format: SessionAudioFormat;
      voice: string | { id: string };
      speed: number;
    };
  };
  include: string[] | null;
}

/** The simulator's default instructions (the API's own default is a longer persona text). */
export const defaultInstructions =
  "You are a helpful, witty, and friendly AI. Your voice and personality should be warm and engaging. " +
  "(This is the local OpenAI Realtime simulator: answers are scripted.)";

/**
 * A new session as `session.created` reports it. Differences from the live defaults, on purpose:
 * `voice` is "alloy" and input transcription is on (`gpt-4o-mini-transcribe`), so a client that never
 * sends `session.update` still gets user transcripts; set `transcription: null` to turn them off.
 */
export function defaultSession(options: { id: string; model: string; expiresAt: number }): SimulatedSession {
  return {
    type: "realtime",
    object: "realtime.session",
    id: options.id,
    model: options.model,
    output_modalities: ["audio"],
    instructions: defaultInstructions,
    tools: [],
    tool_choice: "auto",
    max_output_tokens: "inf",
    tracing: null,
    truncation: "auto",
    prompt: null,
    expires_at: options.expiresAt,
    audio: {
      input: {
        format: { type: "audio/pcm", rate: 24000 },
        transcription: { model: "gpt-4o-mini-transcribe", language: null, prompt: "" },
        noise_reduction: null,
        turn_detection: normalizeTurnDetection({ type: "server_vad" }),
      },
      output: {
        format: { type: "audio/pcm", rate: 24000 },
        voice: "alloy",
        speed: 1,
      },
    },
    include: null,
  };
}

function normalizeFormat(format: z.infer<typeof audioFormatSchema>): SessionAudioFormat {
  return format.type === "audio/pcm" ? { type: "audio/pcm", rate: 24000 } : { type: format.type };
}

/** Fills the API's defaults into a turn detection setting. */
export function normalizeTurnDetection(
  setting: NonNullable<z.infer<typeof turnDetectionSchema>>,
): SessionTurnDetection {
  if (setting.type === "semantic_vad") {
    return {
      type: "semantic_vad",
      eagerness: setting.eagerness ?? "auto",
      create_response: setting.create_response ?? true,
      interrupt_response: setting.interrupt_response ?? true,
    };
  }
  return {
    type: "server_vad",
    threshold: setting.threshold ?? 0.5,
    prefix_padding_ms: setting.prefix_padding_ms ?? 300,
    silence_duration_ms: setting.silence_duration_ms ?? 500,
    idle_timeout_ms: setting.idle_timeout_ms ?? null,
    create_response: setting.create_response ?? true,
    interrupt_response: setting.interrupt_response ?? true,
  };
}

/** The format type of the session's input or output audio. */
export function formatType(format: SessionAudioFormat): AudioFormatType {
  return format.type;
}

/**
 * Applies a validated `session.update` to `current`. Refuses a voice change once the assistant has
 * spoken (the API's rule). Returns the new session or the API error.
 */
export function applySessionUpdate(
  current: SimulatedSession,
  update: SessionUpdate,
  context: { assistantAudioSent: boolean; eventId: string | null },
): { session: SimulatedSession } | { error: ApiError } {
  const next: SimulatedSession = structuredClone(current);
  const newVoice = update.audio?.output?.voice;
  if (
    newVoice !== undefined && context.assistantAudioSent &&
    JSON.stringify(newVoice) !== JSON.stringify(current.audio.output.voice)
  ) {
    return {
      error: apiError(
        "cannot_update_voice",
        "Cannot update a conversation's voice if assistant audio is present.",
        {
          param: "session.audio.output.voice",
          eventId: context.eventId,
        },
      ),
    };
  }
  if (update.model !== undefined) next.model = update.model;
  if (update.instructions !== undefined) next.instructions = update.instructions;
  if (update.output_modalities !== undefined) next.output_modalities = update.output_modalities;
  if (update.tools !== undefined) next.tools = update.tools;
  if (update.tool_choice !== undefined) next.tool_choice = update.tool_choice;
  if (update.max_output_tokens !== undefined) next.max_output_tokens = update.max_output_tokens;
  if (update.tracing !== undefined) next.tracing = update.tracing;
  if (update.truncation !== undefined) next.truncation = update.truncation;
  if (update.prompt !== undefined) next.prompt = update.prompt;
  if (update.include !== undefined) next.include = update.include;
  const input = update.audio?.input;
  if (input?.format) next.audio.input.format = normalizeFormat(input.format);
  if (input?.transcription !== undefined) next.audio.input.transcription = input.transcription;
  if (input?.noise_reduction !== undefined) next.audio.input.noise_reduction = input.noise_reduction;
  if (input?.turn_detection !== undefined) {
    next.audio.input.turn_detection = input.turn_detection === null
      ? null
      : normalizeTurnDetection(input.turn_detection);
  }
  const output = update.audio?.output;
  if (output?.format) next.audio.output.format = normalizeFormat(output.format);
  if (newVoice !== undefined) next.audio.output.voice = newVoice;
  if (output?.speed !== undefined) next.audio.output.speed = output.speed;
  return { session: next };
}
