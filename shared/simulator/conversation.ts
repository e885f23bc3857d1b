/**
 * One simulated Realtime conversation: the session configuration, the input audio buffer with its VAD,
 * the conversation items, and the scripted assistant responses, producing the GA server events in the
 * order the API sends them. It knows nothing about sockets: events leave through `emit`.
 *
 * @module
 */
import { type ApiError, apiError } from "./api_error.ts";
import type { ClientEvent, ClientItem } from "./client_events.ts";
import type { IdFactory } from "./ids.ts";
import {
  type AudioFormatType,
  bytesPerMs,
  encodeBase64,
  SampleDecoder,
  sampleRate,
  synthesizeVoiceChunk,
} from "./pcm_audio.ts";
import { type ScriptedTurn, scriptedTurn } from "./script.ts";
import { applySessionUpdate, type SimulatedSession } from "./session_config.ts";
import type { TimerSet } from "./timer_set.ts";
import {
  assistantAudioTokens,
  responseUsage,
  textTokens,
  type TokenCounts,
  transcriptionUsage,
  userAudioTokens,
} from "./usage.ts";
import { EnergyVad, rmsThresholdFor } from "./vad.ts";

/** Sends one server event; `type` goes first on the wire, then a fresh `event_id`, then `fields`. */
export type EmitEvent = (type: string, fields: Record<string, unknown>) => void;

/** What a {@link SimulatedConversation} needs from its connection. */
export interface ConversationOptions {
  session: SimulatedSession;
  script: readonly ScriptedTurn[];
  /** Length of each `response.output_audio.delta`. */
  audioChunkMs: number;
  /** Stream assistant audio in real time (true) or as fast as the event loop allows (false). */
  realtimePacing: boolean;
  ids: IdFactory;
  emit: EmitEvent;
  timers: TimerSet;
  now(): number;
}

type ItemKind = "user_audio" | "assistant_audio" | "assistant_text" | "text" | "function";

/** A conversation item and what it weighs as context. */
interface ItemState {
  id: string;
  kind: ItemKind;
  /** The item as the API shows it (no audio bytes). */
  wire: Record<string, unknown>;
  /** Text that counts as context tokens (user text, assistant transcript or text, tool payloads). */
  contextText: string;
  /** User audio length, or assistant audio actually sent. */
  audioMs: number;
  /** Set by `conversation.item.truncate`: the audio the model keeps. */
  truncatedAtMs: number | undefined;
}

interface ResponseState {
  id: string;
  item: ItemState;
  modality: "audio" | "text";
  inConversation: boolean;
  pieces: string[];
  piecesSent: number;
  audioMs: number;
  chunksTotal: number;
  chunksSent: number;
  sentMs: number;
  format: AudioFormatType;
  input: TokenCounts;
  cached: TokenCounts;
  base: Record<string, unknown>;
  startedAt: number;
  cancelTimer: (() => void) | undefined;
}

/** Milliseconds between text deltas when pacing a text-only response. */
const textPieceMs = 40;
/** Chunks sent per event-loop turn when not pacing: fast, yet a cancel can still land in between. */
const unpacedChunksPerTurn = 8;

/** The state machine of one simulated conversation. */
export class SimulatedConversation {
  session: SimulatedSession;
  private readonly items: ItemState[] = [];
  private readonly conversationId: string;
  private active: ResponseState | undefined;
  private decoder: SampleDecoder;
  private vad: EnergyVad | undefined;
  private vadBaseMs = 0;
  /** All input audio ever appended, in ms (what `audio_start_ms`/`audio_end_ms` count). */
  private totalInputMs = 0;
  private bufferStartMs = 0;
  private speechItemId: string | undefined;
  /** Where the audio of the current utterance begins: speech start minus the prefix padding. */
  private speechAudioStartMs = 0;
  private userTurns = 0;
  private responses = 0;
  private assistantAudioSent = false;
  private lastResponseInput: TokenCounts | undefined;
  private lastResponseItemId: string | undefined;
  private prefixChanged = false;
  private readonly chunkCache = new Map<AudioFormatType, Uint8Array>();

  constructor(private readonly options: ConversationOptions) {
    this.session = options.session;
    this.conversationId = options.ids.next("conv");
    this.decoder = new SampleDecoder(this.session.audio.input.format.type);
    this.resetVad();
  }

  /** The response being generated, if any (tests and the connection record read it). */
  get activeResponseId(): string | undefined {
    return this.active?.id;
  }

  /** Stops streaming; the connection is gone. */
  dispose(): void {
    this.active?.cancelTimer?.();
    this.active = undefined;
  }

  /** Handles one validated client event. Appends go through {@link appendAudio} instead. */
  handle(event: ClientEvent): void {
    const eventId = event.event_id ?? null;
    switch (event.type) {
      case "session.update":
        return this.updateSession(event.session, eventId);
      case "input_audio_buffer.append":
        // The connection decodes and calls appendAudio; reaching here means it chose not to.
        return;
      case "input_audio_buffer.commit":
        return this.commitManually(eventId);
      case "input_audio_buffer.clear":
        this.bufferStartMs = this.totalInputMs;
        this.speechItemId = undefined;
        this.vad?.reset();
        return this.options.emit("input_audio_buffer.cleared", {});
      case "output_audio_buffer.clear":
        return this.fail(
          apiError(
            "unsupported_event",
            "output_audio_buffer.clear is only supported on WebRTC and SIP connections; over WebSocket, " +
              "stop playback locally and send conversation.item.truncate.",
            { param: "type", eventId },
          ),
        );
      case "conversation.item.create":
        return this.createItem(event.item, event.previous_item_id ?? null, eventId);
      case "conversation.item.retrieve": {
        const item = this.findItem(event.item_id, eventId);
        if (item) this.options.emit("conversation.item.retrieved", { item: item.wire });
        return;
      }
      case "conversation.item.delete":
        return this.deleteItem(event.item_id, eventId);
      case "conversation.item.truncate":
        return this.truncateItem(event.item_id, event.content_index, event.audio_end_ms, eventId);
      case "response.create":
        if (this.active) {
          return this.fail(
            apiError(
              "conversation_already_has_active_response",
              `Conversation already has an active response in progress: ${this.active.id}. ` +
                "Wait until the response is finished before creating a new one.",
              { eventId },
            ),
          );
        }
        return this.startResponse(event.response ?? {});
      case "response.cancel":
        if (!this.active || (event.response_id !== undefined && event.response_id !== this.active.id)) {
          return this.fail(
            apiError("response_cancel_not_active", "Cancellation failed: no active response found", {
              eventId,
            }),
          );
        }
        return this.finishResponse(this.active, "cancelled", "client_cancelled");
    }
  }

  /** Feeds decoded input audio (already validated base64) through the buffer and, if on, the VAD. */
  appendAudio(bytes: Uint8Array): void {
    const samples = this.decoder.decode(bytes);
    const rate = sampleRate(this.session.audio.input.format.type);
    if (!this.vad) {
      this.totalInputMs += (samples.length / rate) * 1000;
      return;
    }
    const transitions = this.vad.feed(samples);
    this.totalInputMs = this.vadBaseMs + (this.vad.position / rate) * 1000;
    for (const transition of transitions) {
      const atMs = this.vadBaseMs + (transition.atSample / rate) * 1000;
      if (transition.kind === "speech_started") this.speechStarted(atMs);
      else this.speechStopped(atMs);
    }
  }

  private fail(error: ApiError): void {
    this.options.emit("error", { error });
  }

  private resetVad(): void {
    const detection = this.session.audio.input.turn_detection;
    this.vadBaseMs = this.totalInputMs;
    this.speechItemId = undefined;
    if (!detection) {
      this.vad = undefined;
      return;
    }
    const silenceMs = detection.type === "server_vad"
      ? detection.silence_duration_ms
      : { low: 800, medium: 500, auto: 500, high: 300 }[detection.eagerness];
    this.vad = new EnergyVad({
      sampleRate: sampleRate(this.session.audio.input.format.type),
      rmsThreshold: rmsThresholdFor(detection.type === "server_vad" ? detection.threshold : 0.5),
      silenceMs,
    });
  }

  private updateSession(update: Parameters<typeof applySessionUpdate>[1], eventId: string | null): void {
    const result = applySessionUpdate(this.session, update, {
      assistantAudioSent: this.assistantAudioSent,
      eventId,
    });
    if ("error" in result) return this.fail(result.error);
    const before = this.session;
    this.session = result.session;
    if (before.audio.input.format.type !== this.session.audio.input.format.type) {
      this.decoder = new SampleDecoder(this.session.audio.input.format.type);
    }
    if (
      JSON.stringify(before.audio.input.turn_detection) !==
        JSON.stringify(this.session.audio.input.turn_detection) ||
      before.audio.input.format.type !== this.session.audio.input.format.type
    ) {
      this.resetVad();
    }
    if (before.instructions !== this.session.instructions) this.prefixChanged = true;
    this.options.emit("session.updated", { session: this.session });
  }

  private speechStarted(atMs: number): void {
    const detection = this.session.audio.input.turn_detection;
    const prefixMs = detection?.type === "server_vad" ? detection.prefix_padding_ms : 300;
    this.speechItemId = this.options.ids.next("item");
    // Audio before the padded speech start is not sent to the model: it is not part of the item.
    this.speechAudioStartMs = Math.max(this.bufferStartMs, atMs - prefixMs);
    this.options.emit("input_audio_buffer.speech_started", {
      audio_start_ms: Math.round(this.speechAudioStartMs),
      item_id: this.speechItemId,
    });
    if (this.active?.inConversation && detection?.interrupt_response) {
      this.finishResponse(this.active, "cancelled", "turn_detected");
    }
  }

  private speechStopped(atMs: number): void {
    const itemId = this.speechItemId ?? this.options.ids.next("item");
    this.speechItemId = undefined;
    this.options.emit("input_audio_buffer.speech_stopped", {
      audio_end_ms: Math.round(atMs),
      item_id: itemId,
    });
    this.bufferStartMs = Math.max(this.bufferStartMs, this.speechAudioStartMs);
    this.commitBuffer(atMs, itemId);
    if (this.session.audio.input.turn_detection?.create_response && !this.active) this.startResponse({});
  }

  /**
   * A client `input_audio_buffer.commit`: a user item plus its transcription, but no response (the API
   * documents that a commit "will not create a response"; the client sends `response.create`).
   */
  private commitManually(eventId: string | null): void {
    const bufferedMs = this.totalInputMs - this.bufferStartMs;
    if (bufferedMs < 100) {
      return this.fail(
        apiError(
          "input_audio_buffer_commit_empty",
          "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer " +
            `only has ${bufferedMs.toFixed(2)}ms of audio.`,
          { eventId },
        ),
      );
    }
    const itemId = this.speechItemId ?? this.options.ids.next("item");
    this.speechItemId = undefined;
    this.vad?.reset();
    this.commitBuffer(this.totalInputMs, itemId);
  }

  private lastItemId(): string | null {
    return this.items.length ? this.items[this.items.length - 1].id : null;
  }

  private commitBuffer(atMs: number, itemId: string): void {
    const audioMs = Math.max(0, atMs - this.bufferStartMs);
    this.bufferStartMs = atMs;
    const previousItemId = this.lastItemId();
    this.options.emit("input_audio_buffer.committed", { previous_item_id: previousItemId, item_id: itemId });
    const content: Record<string, unknown> = { type: "input_audio", transcript: null };
    const wire = {
      id: itemId,
      object: "realtime.item",
      type: "message",
      status: "completed",
      role: "user",
      content: [content],
    };
    this.items.push({
      id: itemId,
      kind: "user_audio",
      wire,
      contextText: "",
      audioMs,
      truncatedAtMs: undefined,
    });
    this.options.emit("conversation.item.added", { previous_item_id: previousItemId, item: wire });
    this.options.emit("conversation.item.done", { previous_item_id: previousItemId, item: wire });
    const turn = scriptedTurn(this.options.script, this.userTurns++);
    const transcription = this.session.audio.input.transcription;
    if (transcription) {
      content.transcript = turn.userTranscript;
      this.options.emit("conversation.item.input_audio_transcription.completed", {
        item_id: itemId,
        content_index: 0,
        transcript: turn.userTranscript,
        usage: transcriptionUsage(transcription.model, audioMs, turn.userTranscript),
      });
    }
  }

  private findItem(itemId: string, eventId: string | null): ItemState | undefined {
    const item = this.items.find((candidate) => candidate.id === itemId);
    if (!item) {
      this.fail(
        apiError("item_not_found", `Item with item_id not found: ${itemId}`, { param: "item_id", eventId }),
      );
    }
    return item;
  }

  private createItem(item: ClientItem, previousItemId: string | null, eventId: string | null): void {
    let index = this.items.length;
    if (previousItemId === "root") {
      index = 0;
    } else if (previousItemId !== null) {
      const found = this.items.findIndex((candidate) => candidate.id === previousItemId);
      if (found < 0) {
        return this.fail(
          apiError("item_not_found", `Item with item_id not found: ${previousItemId}`, {
            param: "previous_item_id",
            eventId,
          }),
        );
      }
      index = found + 1;
    }
    const id = item.id ?? this.options.ids.next("item");
    if (this.items.some((candidate) => candidate.id === id)) {
      return this.fail(
        apiError("item_id_already_exists", `Item with item_id already exists: ${id}`, {
          param: "item.id",
          eventId,
        }),
      );
    }
    const { state, wire } = describeClientItem(id, item);
    if (index < this.items.length) this.prefixChanged = true;
    const previous = index === 0 ? null : this.items[index - 1].id;
    this.items.splice(index, 0, state);
    this.options.emit("conversation.item.added", { previous_item_id: previous, item: wire });
    this.options.emit("conversation.item.done", { previous_item_id: previous, item: wire });
  }

  private deleteItem(itemId: string, eventId: string | null): void {
    const item = this.findItem(itemId, eventId);
    if (!item) return;
    this.items.splice(this.items.indexOf(item), 1);
    this.prefixChanged = true;
    this.options.emit("conversation.item.deleted", { item_id: itemId });
  }

  private truncateItem(
    itemId: string,
    contentIndex: number,
    audioEndMs: number,
    eventId: string | null,
  ): void {
    const item = this.findItem(itemId, eventId);
    if (!item) return;
    if (item.kind !== "assistant_audio") {
      return this.fail(
        apiError("invalid_value", "Only model output audio messages can be truncated", {
          param: "item_id",
          eventId,
        }),
      );
    }
    if (contentIndex !== 0) {
      return this.fail(
        apiError(
          "invalid_value",
          `Invalid 'content_index': item ${itemId} has no content part ${contentIndex}.`,
          {
            param: "content_index",
            eventId,
          },
        ),
      );
    }
    const audioMs = Math.floor(item.audioMs);
    if (audioEndMs > audioMs) {
      return this.fail(
        apiError("invalid_value", `Audio content of ${audioMs}ms is already shorter than ${audioEndMs}ms`, {
          param: "audio_end_ms",
          eventId,
        }),
      );
    }
    item.truncatedAtMs = audioEndMs;
    // The API drops the transcript of a truncated item, so no unheard text stays in the context.
    item.contextText = "";
    item.wire.content = [{ type: "output_audio", transcript: "" }];
    if (item.id !== this.lastResponseItemId) this.prefixChanged = true;
    this.options.emit("conversation.item.truncated", {
      item_id: itemId,
      content_index: contentIndex,
      audio_end_ms: audioEndMs,
    });
  }

  private contextTokens(instructions: string): TokenCounts {
    const counts: TokenCounts = { text: textTokens(instructions), audio: 0 };
    for (const item of this.items) {
      counts.text += textTokens(item.contextText);
      const audioMs = item.truncatedAtMs ?? item.audioMs;
      if (item.kind === "user_audio") counts.audio += userAudioTokens(audioMs);
      if (item.kind === "assistant_audio") counts.audio += assistantAudioTokens(audioMs);
    }
    return counts;
  }

  private voiceChunk(format: AudioFormatType): Uint8Array {
    let chunk = this.chunkCache.get(format);
    if (!chunk) {
      chunk = synthesizeVoiceChunk(format, this.options.audioChunkMs);
      this.chunkCache.set(format, chunk);
    }
    return chunk;
  }

  private startResponse(params: {
    conversation?: string;
    instructions?: string;
    output_modalities?: Array<"text" | "audio">;
    metadata?: Record<string, string> | null;
    max_output_tokens?: number | "inf";
  }): void {
    const turn = scriptedTurn(this.options.script, this.responses++);
    const modality = (params.output_modalities ?? this.session.output_modalities)[0] ?? "audio";
    const inConversation = params.conversation !== "none";
    const id = this.options.ids.next("resp");
    const itemId = this.options.ids.next("item");
    const input = this.contextTokens(params.instructions ?? this.session.instructions);
    const cached = !this.prefixChanged && this.lastResponseInput
      ? this.lastResponseInput
      : { text: 0, audio: 0 };
    const base = {
      object: "realtime.response",
      id,
      status: "in_progress",
      status_details: null,
      output: [],
      conversation_id: inConversation ? this.conversationId : null,
      output_modalities: [modality],
      max_output_tokens: params.max_output_tokens ?? this.session.max_output_tokens,
      audio: { output: { format: this.session.audio.output.format, voice: this.session.audio.output.voice } },
      usage: null,
      metadata: params.metadata ?? null,
    };
    const wire: Record<string, unknown> = {
      id: itemId,
      object: "realtime.item",
      type: "message",
      status: "in_progress",
      role: "assistant",
      content: [],
    };
    const item: ItemState = {
      id: itemId,
      kind: modality === "audio" ? "assistant_audio" : "assistant_text",
      wire,
      contextText: "",
      audioMs: 0,
      truncatedAtMs: undefined,
    };
    const pieces = turn.assistantTranscript.match(/\s*\S+/g) ?? [];
    const audioMs = modality === "audio" ? Math.max(0, Math.round(turn.assistantAudioMs)) : 0;
    const response: ResponseState = {
      id,
      item,
      modality,
      inConversation,
      pieces,
      piecesSent: 0,
      audioMs,
      chunksTotal: modality === "audio" ? Math.ceil(audioMs / this.options.audioChunkMs) : pieces.length,
      chunksSent: 0,
      sentMs: 0,
      format: this.session.audio.output.format.type,
      input,
      cached,
      base,
      startedAt: this.options.now(),
      cancelTimer: undefined,
    };
    this.active = response;
    this.options.emit("response.created", { response: base });
    this.options.emit("response.output_item.added", { response_id: id, output_index: 0, item: wire });
    if (inConversation) {
      const previous = this.lastItemId();
      this.items.push(item);
      this.options.emit("conversation.item.added", { previous_item_id: previous, item: wire });
    }
    this.options.emit("response.content_part.added", {
      response_id: id,
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: modality === "audio" ? { type: "audio", transcript: "" } : { type: "text", text: "" },
    });
    response.cancelTimer = this.options.timers.after(0, () => this.stream(response));
  }

  private delta(response: ResponseState, type: string, delta: string): void {
    this.options.emit(type, {
      response_id: response.id,
      item_id: response.item.id,
      output_index: 0,
      content_index: 0,
      delta,
    });
  }

  private sendPiecesUpTo(response: ResponseState, count: number): void {
    const type = response.modality === "audio"
      ? "response.output_audio_transcript.delta"
      : "response.output_text.delta";
    while (response.piecesSent < Math.min(count, response.pieces.length)) {
      this.delta(response, type, response.pieces[response.piecesSent++]);
    }
  }

  private sendChunk(response: ResponseState): void {
    const index = response.chunksSent++;
    if (response.modality === "text") return this.sendPiecesUpTo(response, index + 1);
    // The transcript runs slightly ahead of the audio, as the API's does.
    this.sendPiecesUpTo(response, Math.ceil(((index + 1) * response.pieces.length) / response.chunksTotal));
    const chunkMs = this.options.audioChunkMs;
    const ms = Math.min(chunkMs, response.audioMs - index * chunkMs);
    const chunk = this.voiceChunk(response.format);
    const bytes = ms === chunkMs ? chunk : chunk.subarray(0, Math.round(ms * bytesPerMs(response.format)));
    this.delta(response, "response.output_audio.delta", encodeBase64(bytes));
    response.sentMs += ms;
    response.item.audioMs = response.sentMs;
  }

  private stream(response: ResponseState): void {
    response.cancelTimer = undefined;
    if (this.active !== response) return;
    const interval = response.modality === "audio" ? this.options.audioChunkMs : textPieceMs;
    if (this.options.realtimePacing) {
      const elapsed = this.options.now() - response.startedAt;
      do {
        this.sendChunk(response);
      } while (response.chunksSent < response.chunksTotal && response.chunksSent * interval <= elapsed);
    } else {
      for (let n = 0; n < unpacedChunksPerTurn && response.chunksSent < response.chunksTotal; n++) {
        this.sendChunk(response);
      }
    }
    if (response.chunksSent >= response.chunksTotal) return this.finishResponse(response, "completed");
    const delay = this.options.realtimePacing
      ? response.startedAt + response.chunksSent * interval - this.options.now()
      : 0;
    response.cancelTimer = this.options.timers.after(delay, () => this.stream(response));
  }

  private finishResponse(
    response: ResponseState,
    status: "completed" | "cancelled",
    reason?: "turn_detected" | "client_cancelled",
  ): void {
    response.cancelTimer?.();
    response.cancelTimer = undefined;
    this.active = undefined;
    if (status === "completed") this.sendPiecesUpTo(response, response.pieces.length);
    const text = response.pieces.slice(0, response.piecesSent).join("");
    const ids = { response_id: response.id, item_id: response.item.id, output_index: 0, content_index: 0 };
    let content: Record<string, unknown>;
    if (response.modality === "audio") {
      content = { type: "output_audio", transcript: text };
      this.options.emit("response.output_audio.done", ids);
      this.options.emit("response.output_audio_transcript.done", { ...ids, transcript: text });
      this.options.emit("response.content_part.done", { ...ids, part: { type: "audio", transcript: text } });
    } else {
      content = { type: "output_text", text };
      this.options.emit("response.output_text.done", { ...ids, text });
      this.options.emit("response.content_part.done", { ...ids, part: { type: "text", text } });
    }
    const item = response.item;
    item.wire.status = status === "completed" ? "completed" : "incomplete";
    item.wire.content = [content];
    if (item.truncatedAtMs === undefined) item.contextText = text;
    this.options.emit("response.output_item.done", {
      response_id: response.id,
      output_index: 0,
      item: item.wire,
    });
    if (response.inConversation && this.items.includes(item)) {
      const index = this.items.indexOf(item);
      this.options.emit("conversation.item.done", {
        previous_item_id: index > 0 ? this.items[index - 1].id : null,
        item: item.wire,
      });
    }
    const usage = responseUsage(response.input, response.cached, {
      text: textTokens(text),
      audio: assistantAudioTokens(response.sentMs),
    });
    this.options.emit("response.done", {
      response: {
        ...response.base,
        status,
        status_details: status === "completed" ? null : { type: "cancelled", reason },
        output: [item.wire],
        usage,
      },
    });
    if (response.sentMs > 0) this.assistantAudioSent = true;
    this.lastResponseInput = response.input;
    this.lastResponseItemId = item.id;
    this.prefixChanged = false;
  }
}

/** The state and wire form of a client-created item (audio bytes are never echoed back). */
function describeClientItem(
  id: string,
  item: ClientItem,
): { state: ItemState; wire: Record<string, unknown> } {
  const common = { id, object: "realtime.item", type: item.type, status: "completed" };
  if (item.type === "message") {
    const content = item.content.map((part) => {
      if (part.type === "input_audio") return { type: "input_audio", transcript: part.transcript ?? null };
      return { ...part };
    });
    const wire = { ...common, role: item.role, content };
    const contextText = item.content.map((part) => ("text" in part ? part.text : "")).join("");
    // Seeded audio (base64) counts as user audio; its length is derived from the PCM16 byte count.
    const audioMs = item.content.reduce((total, part) => {
      if (part.type !== "input_audio" || !part.audio) return total;
      return total + (part.audio.length * 3) / 4 / 48;
    }, 0);
    const kind: ItemKind = item.role === "assistant" ? "assistant_text" : audioMs > 0 ? "user_audio" : "text";
    return { state: { id, kind, wire, contextText, audioMs, truncatedAtMs: undefined }, wire };
  }
  if (item.type === "function_call") {
    const wire = { ...common, call_id: item.call_id, name: item.name, arguments: item.arguments };
    return {
      state: {
        id,
        kind: "function",
        wire,
        contextText: item.name + item.arguments,
        audioMs: 0,
        truncatedAtMs: undefined,
      },
      wire,
    };
  }
  const wire = { ...common, call_id: item.call_id, output: item.output };
  return {
    state: { id, kind: "function", wire, contextText: item.output, audioMs: 0, truncatedAtMs: undefined },
    wire,
  };
}
