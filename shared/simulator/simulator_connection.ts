/**
 * One simulated upstream socket: refuses it after the upgrade when the handshake said so, otherwise
 * sends `session.created`, routes client frames (echo fast path, or the conversation), records them,
 * and ends the session after the configured maximum duration with `session_expired`, as the API does.
 *
 * @module
 */
import type { FrameData, RelaySocket, SocketHandlers } from "../adapter.ts";
import { type ApiError, apiError } from "./api_error.ts";
import { parseClientEvent } from "./client_events.ts";
import { recordClientEvent, type SimulatedConnection } from "./connection_record.ts";
import { SimulatedConversation } from "./conversation.ts";
import { echoDeltaFrame, readFlatAppend } from "./echo.ts";
import type { HandshakeVerdict } from "./handshake.ts";
import { IdFactory } from "./ids.ts";
import { base64DecodedLength, decodeBase64 } from "./pcm_audio.ts";
import type { ScriptedTurn } from "./script.ts";
import { defaultSession } from "./session_config.ts";
import { TimerSet } from "./timer_set.ts";

/** Settings shared by every connection of one simulator. */
export interface ConnectionSettings {
  mode: "conversation" | "echo";
  script: readonly ScriptedTurn[];
  sessionMaxSeconds: number;
  audioChunkMs: number;
  realtimePacing: boolean;
  maxRecordedEvents: number;
  now(): number;
}

/** The close code the API ends an expired session with. */
export const sessionExpiredCloseCode = 1001;

/**
 * The API's `session_expired` message: "... of 60 minutes." for its limit; whole minutes or seconds for
 * other limits (tests use fractions of a second).
 */
export function sessionExpiredMessage(seconds: number): string {
  const duration = seconds >= 60 && seconds % 60 === 0
    ? `${seconds / 60} minute${seconds === 60 ? "" : "s"}`
    : `${seconds} second${seconds === 1 ? "" : "s"}`;
  return `Your session hit the maximum duration of ${duration}.`;
}

/** Drives one connection; hand {@link handlers} to `RuntimeAdapter.upgradeWebSocket`. */
export class SimulatorConnection {
  readonly handlers: SocketHandlers;
  private socket: RelaySocket | undefined;
  private readonly ids = new IdFactory();
  private readonly timers = new TimerSet();
  private conversation: SimulatedConversation | undefined;
  private serverClose: { code: number; reason: string } | undefined;
  private readonly echoResponseId: string;
  private readonly echoItemId: string;

  constructor(
    readonly record: SimulatedConnection,
    private readonly verdict: HandshakeVerdict,
    private readonly settings: ConnectionSettings,
    private readonly onFinished: (connection: SimulatorConnection) => void,
  ) {
    this.echoResponseId = this.ids.next("resp");
    this.echoItemId = this.ids.next("item");
    this.handlers = {
      onOpen: (socket) => this.open(socket),
      onMessage: (data) => this.receive(data),
      onClose: (code, reason) => this.finish(code, reason),
    };
  }

  /** Closes from the server side (shutdown, expiry, refusal); the record says `by: "server"`. */
  close(code: number, reason: string): void {
    if (this.serverClose || this.record.closed) return;
    this.serverClose = { code, reason };
    this.timers.clearAll();
    this.conversation?.dispose();
    this.socket?.close(code, reason);
  }

  private emit(type: string, fields: Record<string, unknown>): void {
    if (!this.socket?.isOpen || this.serverClose) return;
    const event = { type, event_id: this.ids.next("event"), ...fields };
    if (type === "error") {
      const code = (fields.error as ApiError).code;
      if (this.record.sentErrors.length < this.settings.maxRecordedEvents) {
        this.record.sentErrors.push(String(code));
      }
    }
    this.record.sentEvents++;
    this.socket.send(JSON.stringify(event));
  }

  private fail(error: ApiError): void {
    this.emit("error", { error });
  }

  private open(socket: RelaySocket): void {
    this.socket = socket;
    if (this.record.closed) return;
    const refusal = this.verdict.refusal;
    if (refusal) {
      this.fail(refusal.error);
      this.close(refusal.closeCode, refusal.closeReason);
      return;
    }
    const model = this.verdict.model ?? "";
    const sessionId = this.ids.next("sess");
    this.record.sessionId = sessionId;
    const session = defaultSession({
      id: sessionId,
      model,
      expiresAt: Math.floor(this.record.openedAt / 1000) + this.settings.sessionMaxSeconds,
    });
    this.conversation = new SimulatedConversation({
      session,
      script: this.settings.script,
      audioChunkMs: this.settings.audioChunkMs,
      realtimePacing: this.settings.realtimePacing,
      ids: this.ids,
      emit: (type, fields) => this.emit(type, fields),
      timers: this.timers,
      now: this.settings.now,
    });
    this.emit("session.created", { session });
    this.timers.after(this.settings.sessionMaxSeconds * 1000, () => this.expire());
  }

  private expire(): void {
    const message = sessionExpiredMessage(this.settings.sessionMaxSeconds);
    this.fail(apiError("session_expired", message));
    this.close(sessionExpiredCloseCode, message);
  }

  private receive(data: FrameData): void {
    if (this.serverClose || this.record.closed) return;
    if (typeof data !== "string") {
      this.record.receivedBinaryFrames++;
      this.fail(
        apiError(
          "invalid_json",
          `Binary frames are not supported: send each client event as a JSON text frame (got ${data.byteLength} bytes).`,
        ),
      );
      return;
    }
    const conversation = this.conversation;
    if (!conversation) return;
    if (this.settings.mode === "echo") {
      const flat = readFlatAppend(data);
      if (flat) return this.echoAppend(flat.audio, flat.eventId, data, true);
    }
    const parsed = parseClientEvent(data);
    const json = parsed.json as Record<string, unknown> | undefined;
    const type = json && typeof json === "object" && typeof json.type === "string" ? json.type : null;
    const eventId = json && typeof json === "object" && typeof json.event_id === "string"
      ? json.event_id
      : null;
    if (!parsed.ok) {
      recordClientEvent(this.record, this.settings.maxRecordedEvents, {
        type,
        eventId,
        event: parsed.json ?? null,
        raw: data,
      }, this.settings.now());
      return this.fail(parsed.error);
    }
    const event = parsed.event;
    if (event.type === "input_audio_buffer.append") {
      if (this.settings.mode === "echo") {
        return this.echoAppend(event.audio, eventId, data, false, parsed.json);
      }
      const bytes = decodeBase64(event.audio);
      this.record.inputAudioBytes += bytes?.length ?? 0;
      recordClientEvent(this.record, this.settings.maxRecordedEvents, {
        type,
        eventId,
        event: parsed.json,
        raw: data,
        audioBytes: bytes?.length ?? 0,
      }, this.settings.now());
      if (!bytes) {
        return this.fail(
          apiError("invalid_value", "Invalid 'audio'. Expected base64-encoded audio bytes.", {
            param: "audio",
            eventId,
          }),
        );
      }
      return conversation.appendAudio(bytes);
    }
    recordClientEvent(this.record, this.settings.maxRecordedEvents, {
      type,
      eventId,
      event: parsed.json,
      raw: data,
    }, this.settings.now());
    conversation.handle(event);
  }

  /** Echoes one append as one audio delta; `safe` when `audio` is known to need no JSON escaping. */
  private echoAppend(
    audio: string,
    eventId: string | null,
    raw: string,
    safe: boolean,
    json?: unknown,
  ): void {
    const bytes = base64DecodedLength(audio);
    this.record.inputAudioBytes += bytes;
    if (this.record.receivedEvents.length < this.settings.maxRecordedEvents) {
      recordClientEvent(this.record, this.settings.maxRecordedEvents, {
        type: "input_audio_buffer.append",
        eventId,
        event: json ??
          { type: "input_audio_buffer.append", ...(eventId ? { event_id: eventId } : {}), audio },
        raw,
        audioBytes: bytes,
      }, this.settings.now());
    } else {
      this.record.droppedEvents++;
    }
    if (!this.socket?.isOpen) return;
    const delta = safe ? audio : JSON.stringify(audio).slice(1, -1);
    this.record.sentEvents++;
    this.socket.send(echoDeltaFrame(this.ids.next("event"), this.echoResponseId, this.echoItemId, delta));
  }

  private finish(code: number, reason: string): void {
    if (this.record.closed) return;
    this.timers.clearAll();
    this.conversation?.dispose();
    this.record.closed = this.serverClose
      ? { code: this.serverClose.code, reason: this.serverClose.reason, by: "server" }
      : { code, reason, by: "client" };
    this.onFinished(this);
  }
}
