/**
 * What the simulator remembers about each connection, refused ones included, for tests to assert on
 * (in process through `simulator.connections`, or from another process through
 * `GET /_simulator/connections`). Keys never appear in a record; memory per connection is bounded.
 *
 * @module
 */
import type { AuthForm } from "./handshake.ts";

/** One client event as received. */
export interface RecordedClientEvent {
  /** The event's `type`, when the frame was a JSON object with a string `type`. */
  type: string | null;
  eventId: string | null;
  /** The parsed event; for `input_audio_buffer.append` the `audio` string is cut to a short prefix. */
  event: unknown;
  /** The frame as received; cut to {@link rawAppendCap} characters for appends, {@link rawEventCap} otherwise. */
  raw: string;
  /** Decoded bytes of an append's audio. */
  audioBytes?: number;
  receivedAt: number;
}

/** How a connection ended. */
export interface ConnectionClose {
  code: number;
  reason: string;
  by: "client" | "server";
}

/** Everything recorded about one connection. */
export interface SimulatedConnection {
  id: string;
  url: string;
  model: string | null;
  authForm: AuthForm;
  /** Offered subprotocols, any `openai-insecure-api-key.` value redacted. */
  offeredProtocols: string[];
  selectedProtocol: string | null;
  /** Request headers, lower-cased, key redacted. */
  headers: Record<string, string>;
  /** The error code the handshake was refused with, or null for an accepted connection. */
  refusal: string | null;
  mode: "conversation" | "echo";
  /** The session id (`sess_…`) of an accepted connection. */
  sessionId: string | null;
  receivedEvents: RecordedClientEvent[];
  /** Events not kept because {@link SimulatedConnection.receivedEvents} was full. */
  droppedEvents: number;
  receivedBinaryFrames: number;
  inputAudioBytes: number;
  /** Server events sent (all types, audio deltas included). */
  sentEvents: number;
  /** `error.code` of every error event sent, in order (bounded like the received events). */
  sentErrors: string[];
  openedAt: number;
  closed?: ConnectionClose;
}

/** Characters of an append's base64 kept in {@link RecordedClientEvent.event}. */
export const audioPrefixCap = 32;
/** Characters of an append frame kept in {@link RecordedClientEvent.raw}. */
export const rawAppendCap = 160;
/** Characters of any other frame kept in {@link RecordedClientEvent.raw}. */
export const rawEventCap = 64 * 1024;

function cut(text: string, cap: number): string {
  return text.length <= cap ? text : `${text.slice(0, cap)}…`;
}

/** Stores a received event unless the per-connection cap is reached (then only counts it). */
export function recordClientEvent(
  record: SimulatedConnection,
  cap: number,
  entry: { type: string | null; eventId: string | null; event: unknown; raw: string; audioBytes?: number },
  now: number,
): void {
  if (record.receivedEvents.length >= cap) {
    record.droppedEvents++;
    return;
  }
  const isAppend = entry.type === "input_audio_buffer.append";
  let event = entry.event;
  if (
    isAppend && event && typeof event === "object" && typeof (event as { audio?: unknown }).audio === "string"
  ) {
    const audio = (event as { audio: string }).audio;
    event = { ...event, audio: cut(audio, audioPrefixCap) };
  }
  record.receivedEvents.push({
    type: entry.type,
    eventId: entry.eventId,
    event,
    raw: cut(entry.raw, isAppend ? rawAppendCap : rawEventCap),
    ...(entry.audioBytes !== undefined ? { audioBytes: entry.audioBytes } : {}),
    receivedAt: now,
  });
}

/** The JSON served by `GET /_simulator/connections`; events only when asked for. */
export function summarizeConnection(
  record: SimulatedConnection,
  includeEvents: boolean,
): Record<string, unknown> {
  const { receivedEvents, ...rest } = record;
  return {
    ...rest,
    receivedEventCount: receivedEvents.length + record.droppedEvents,
    receivedEventTypes: receivedEvents.map((e) => e.type),
    ...(includeEvents ? { receivedEvents } : {}),
  };
}
