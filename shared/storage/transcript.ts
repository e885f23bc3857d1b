/**
 * Turns the upstream (OpenAI Realtime) event stream of one session into transcript writes and usage.
 *
 * - User turns come from `conversation.item.input_audio_transcription.completed`.
 * - Assistant turns come from the final transcript/text events (GA `response.output_audio_transcript.done`
 *   / `response.output_text.done`, beta `response.audio_transcript.done` / `response.text.done`) and are
 *   written when their response is done, so a cancelled response is known as such. Deltas are collected,
 *   so a response cut short still stores the text received; it is marked `interrupted`.
 * - A `conversation.item.truncated` (barge-in) for an assistant turn already written produces a metadata
 *   update marking it interrupted.
 * - Each message's `createdAt` is the time its item entered the conversation (`input_audio_buffer.committed`,
 *   `conversation.item.added` / beta `conversation.item.created`, `response.output_item.added`), from a
 *   clock that strictly increases, so ordering by `created_at` is the conversation's order even though
 *   the user's transcript usually completes after the assistant has started answering.
 *
 * @module
 */
import {
  assistantTextDeltaSchema,
  assistantTextDeltaTypes,
  assistantTextDoneSchema,
  assistantTextDoneTypes,
  type ConversationItem,
  conversationItemAddedSchema,
  conversationItemAddedTypes,
  conversationItemTruncatedSchema,
  inputAudioBufferCommittedSchema,
  inputAudioTranscriptionCompletedSchema,
  type ResponseDone,
  responseDoneSchema,
  responseOutputItemSchema,
} from "../protocol/events.ts";
import { MonotonicClock } from "./monotonic_clock.ts";
import type { ConversationStore, StoredMessage, TokenUsage } from "./store.ts";
import { addUsage, emptyUsage, usageFromResponse } from "./usage.ts";

/** What a recorder needs to know about its session. */
export interface TranscriptContext {
  conversationId: string;
  userId: string;
  /** The Realtime model, written to every message's metadata. */
  model: string;
  /** The assistant's voice, written to assistant messages' metadata. */
  voice: string | null;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** The relay session id; written as `metadata.session_id` when given. */
  sessionId?: string;
}

/** A write the recorder asks for; run it with {@link writeTranscript} (through the write queue). */
export type TranscriptWrite =
  | { kind: "append"; message: StoredMessage }
  | { kind: "update_metadata"; conversationId: string; itemId: string; metadata: Record<string, unknown> };

/** Runs one {@link TranscriptWrite} against a store. */
export function writeTranscript(store: ConversationStore, write: TranscriptWrite): Promise<void> {
  return write.kind === "append"
    ? store.appendMessage(write.message)
    : store.updateMessageMetadata(write.conversationId, write.itemId, write.metadata);
}

/** The `input_method` metadata value of every message the relay writes (the seeds' shape). */
export const REALTIME_VOICE_INPUT_METHOD = "realtime_voice";

interface PartText {
  deltas: string;
  final: string | null;
}

interface ItemState {
  id: string;
  role: "user" | "assistant" | null;
  /** When the item entered the conversation. */
  createdAt: string;
  responseId: string | null;
  parts: Map<number, PartText>;
  /** Text from `response.done`'s output, used when no final event arrived. */
  outputText: string | null;
  truncated: boolean;
  audioEndMs: number | null;
  /** The metadata written, once the message is written. */
  written: Record<string, unknown> | null;
}

/** Items remembered at most; the oldest are forgotten (a truncation refers to a recent item). */
const MAX_TRACKED_ITEMS = 512;

const interestingTypes = new Set<string>([
  "input_audio_buffer.committed",
  ...conversationItemAddedTypes,
  "response.output_item.added",
  "conversation.item.input_audio_transcription.completed",
  ...assistantTextDeltaTypes,
  ...assistantTextDoneTypes,
  "conversation.item.truncated",
  "response.done",
]);

/**
 * One session's transcript and usage, built from upstream events. Feed it every upstream event with
 * {@link TranscriptRecorder.observe}; events it does not need (audio deltas...) cost one set lookup.
 */
export class TranscriptRecorder {
  private readonly ctx: TranscriptContext;
  private readonly clock: MonotonicClock;
  private readonly items = new Map<string, ItemState>();
  private totalUsage: TokenUsage = emptyUsage();
  private malformed = 0;

  constructor(ctx: TranscriptContext) {
    this.ctx = ctx;
    this.clock = new MonotonicClock(ctx.now);
  }

  /** True for the event types {@link observe} uses; lets a caller skip parsing all the others. */
  static wants(type: string | undefined): boolean {
    return type !== undefined && interestingTypes.has(type);
  }

  /** Reads one parsed upstream event; returns the writes it completes (often none). */
  observe(event: { type: string } & Record<string, unknown>): TranscriptWrite[] {
    const type = event.type;
    if (!interestingTypes.has(type)) return [];
    switch (type) {
      case "input_audio_buffer.committed": {
        const parsed = inputAudioBufferCommittedSchema.safeParse(event);
        if (!parsed.success) return this.skip();
        this.track(parsed.data.item_id, "user");
        return [];
      }
      case "conversation.item.added":
      case "conversation.item.done":
      case "conversation.item.created": {
        const parsed = conversationItemAddedSchema.safeParse(event);
        if (!parsed.success) return this.skip();
        const item = parsed.data.item;
        this.track(item.id, roleOf(item));
        return [];
      }
      case "response.output_item.added": {
        const parsed = responseOutputItemSchema.safeParse(event);
        if (!parsed.success) return this.skip();
        const item = parsed.data.item;
        if (item.type !== "message") return [];
        const state = this.track(item.id, roleOf(item) ?? "assistant");
        state.responseId = parsed.data.response_id;
        return [];
      }
      case "conversation.item.input_audio_transcription.completed": {
        const parsed = inputAudioTranscriptionCompletedSchema.safeParse(event);
        if (!parsed.success) return this.skip();
        return this.userTranscript(parsed.data.item_id, parsed.data.transcript);
      }
      case "conversation.item.truncated": {
        const parsed = conversationItemTruncatedSchema.safeParse(event);
        if (!parsed.success) return this.skip();
        return this.truncated(parsed.data.item_id, parsed.data.audio_end_ms ?? null);
      }
      case "response.done": {
        const parsed = responseDoneSchema.safeParse(event);
        if (!parsed.success) return this.skip();
        return this.responseDone(parsed.data.response);
      }
      default:
        break;
    }
    if ((assistantTextDeltaTypes as readonly string[]).includes(type)) {
      const parsed = assistantTextDeltaSchema.safeParse(event);
      if (!parsed.success) return this.skip();
      const state = this.assistantItem(parsed.data.item_id, parsed.data.response_id);
      this.part(state, parsed.data.content_index).deltas += parsed.data.delta;
      return [];
    }
    const parsed = assistantTextDoneSchema.safeParse(event);
    if (!parsed.success) return this.skip();
    const state = this.assistantItem(parsed.data.item_id, parsed.data.response_id);
    const text = parsed.data.transcript ?? parsed.data.text;
    if (text !== undefined) this.part(state, parsed.data.content_index).final = text;
    return [];
  }

  /**
   * Ends the session's transcript: assistant turns whose response never finished are returned with the
   * text received so far, marked interrupted. Call once when the session closes, before flushing.
   */
  finish(): TranscriptWrite[] {
    const writes: TranscriptWrite[] = [];
    for (const state of this.items.values()) {
      if (state.role !== "assistant" || state.written) continue;
      const write = this.assistantWrite(state, "session_ended");
      if (write) writes.push(write);
    }
    return writes;
  }

  /** Usage summed over every `response.done` so far. */
  usage(): TokenUsage {
    return { ...this.totalUsage };
  }

  /** Events of an inspected type that did not match their schema (and were ignored). */
  get malformedEvents(): number {
    return this.malformed;
  }

  private skip(): TranscriptWrite[] {
    this.malformed++;
    return [];
  }

  /** The item's state; created (and so stamped) the first time an item is seen. */
  private track(itemId: string, role: "user" | "assistant" | null): ItemState {
    let state = this.items.get(itemId);
    if (!state) {
      state = {
        id: itemId,
        role,
        createdAt: this.clock.next(),
        responseId: null,
        parts: new Map(),
        outputText: null,
        truncated: false,
        audioEndMs: null,
        written: null,
      };
      this.items.set(itemId, state);
      if (this.items.size > MAX_TRACKED_ITEMS) {
        const oldest = this.items.keys().next().value;
        if (oldest !== undefined) this.items.delete(oldest);
      }
    } else if (state.role === null && role !== null) {
      state.role = role;
    }
    return state;
  }

  private assistantItem(itemId: string, responseId: string): ItemState {
    const state = this.track(itemId, "assistant");
    state.responseId ??= responseId;
    return state;
  }

  private part(state: ItemState, contentIndex: number | undefined): PartText {
    const index = contentIndex ?? 0;
    let part = state.parts.get(index);
    if (!part) {
      part = { deltas: "", final: null };
      state.parts.set(index, part);
    }
    return part;
  }

  private userTranscript(itemId: string, transcript: string): TranscriptWrite[] {
    const state = this.track(itemId, "user");
    if (state.written) return [];
    const content = transcript.trim();
    if (content === "") return [];
    const metadata: Record<string, unknown> = {
      input_method: REALTIME_VOICE_INPUT_METHOD,
      model: this.ctx.model,
      item_id: itemId,
      ...this.sessionField(),
    };
    state.written = metadata;
    return [{ kind: "append", message: this.message(state, "user", content, metadata) }];
  }

  private responseDone(response: ResponseDone["response"]): TranscriptWrite[] {
    if (response.usage) this.totalUsage = addUsage(this.totalUsage, usageFromResponse(response.usage));
    for (const item of response.output ?? []) {
      if (item.type !== "message" || (item.role !== undefined && item.role !== "assistant")) continue;
      const state = this.assistantItem(item.id, response.id);
      const text = (item.content ?? []).map((part) => part.transcript ?? part.text ?? "").filter((t) =>
        t !== ""
      )
        .join("\n");
      if (text !== "") state.outputText = text;
    }
    const cut = response.status === "cancelled" || response.status === "incomplete" ||
      response.status === "failed";
    const reason = cut ? response.status_details?.reason ?? response.status : null;
    const writes: TranscriptWrite[] = [];
    for (const state of this.items.values()) {
      if (state.role !== "assistant" || state.responseId !== response.id || state.written) continue;
      const write = this.assistantWrite(state, reason);
      if (write) writes.push(write);
    }
    return writes;
  }

  private truncated(itemId: string, audioEndMs: number | null): TranscriptWrite[] {
    const state = this.items.get(itemId);
    if (!state || state.role === "user") return [];
    state.truncated = true;
    state.audioEndMs = audioEndMs;
    if (!state.written || state.written.interrupted === true) return [];
    const metadata: Record<string, unknown> = {
      ...state.written,
      interrupted: true,
      interrupted_reason: "truncated",
      ...(audioEndMs !== null ? { audio_end_ms: audioEndMs } : {}),
    };
    state.written = metadata;
    return [{ kind: "update_metadata", conversationId: this.ctx.conversationId, itemId, metadata }];
  }

  /** The append for a finished (or abandoned) assistant item; null when it carries no text. */
  private assistantWrite(state: ItemState, cutReason: string | null): TranscriptWrite | null {
    const content = this.assistantText(state).trim();
    const interrupted = cutReason !== null || state.truncated;
    const metadata: Record<string, unknown> = {
      input_method: REALTIME_VOICE_INPUT_METHOD,
      model: this.ctx.model,
      voice: this.ctx.voice,
      item_id: state.id,
      response_id: state.responseId,
      interrupted,
      ...(interrupted ? { interrupted_reason: cutReason ?? "truncated" } : {}),
      ...(state.audioEndMs !== null ? { audio_end_ms: state.audioEndMs } : {}),
      ...this.sessionField(),
    };
    // Remembered even when empty, so the item is not offered again.
    state.written = metadata;
    if (content === "") return null;
    return { kind: "append", message: this.message(state, "assistant", content, metadata) };
  }

  /** Final text per content part (final event, else the deltas), else `response.done`'s output. */
  private assistantText(state: ItemState): string {
    const indexes = [...state.parts.keys()].sort((a, b) => a - b);
    const fromParts = indexes.map((i) => {
      const part = state.parts.get(i)!;
      return part.final ?? part.deltas;
    }).filter((t) => t.trim() !== "").join("\n");
    if (indexes.some((i) => state.parts.get(i)!.final !== null)) return fromParts;
    // No final event: prefer the response's output (complete as generated) over the deltas seen.
    return state.outputText ?? fromParts;
  }

  private message(
    state: ItemState,
    role: "user" | "assistant",
    content: string,
    metadata: Record<string, unknown>,
  ): StoredMessage {
    return {
      conversationId: this.ctx.conversationId,
      userId: this.ctx.userId,
      role,
      content,
      itemId: state.id,
      createdAt: state.createdAt,
      metadata,
    };
  }

  private sessionField(): Record<string, unknown> {
    return this.ctx.sessionId ? { session_id: this.ctx.sessionId } : {};
  }
}

function roleOf(item: ConversationItem): "user" | "assistant" | null {
  return item.role === "user" || item.role === "assistant" ? item.role : null;
}
