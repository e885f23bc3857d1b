/// <reference lib="dom" />
/**
 * The browser client of the voice relay: connects with the user's token (in the subprotocol list,
 * never the URL), streams the microphone as 24 kHz PCM16, plays the assistant gaplessly, handles
 * barge-in (stop at once, truncate to what was heard), reconnects with backoff after abnormal ends and
 * at once when the relay ends a session on purpose (time limits, a drain), keeping the conversation
 * (`?conversation_id=`), and reports state, transcripts, errors and audio levels as events. No
 * framework needed.
 *
 * ```ts
 * import { resolveVoiceEndpoint, VoiceClient } from "./client/voice_client.ts";
 *
 * const client = new VoiceClient({
 *   endpoint: resolveVoiceEndpoint(import.meta.env),
 *   token: async () => (await supabase.auth.getSession()).data.session!.access_token,
 *   voice: "marin",
 * });
 * client.on("state", (state) => console.log(state));
 * client.on("transcript", (t) => console.log(t.role, t.text, t.final));
 * button.onclick = async () => {
 *   await client.connect(); // call from a click: browsers only start audio after a user gesture
 *   await client.setMicrophoneEnabled(true);
 * };
 * ```
 *
 * @module
 */
import { describeClose, describeServerError } from "./close_reasons.ts";
import { endpointUrl, nextStepAfterClose, type PlannedEnd, plannedEndOf } from "./continuity.ts";
import { Emitter } from "./emitter.ts";
import { resolveVoiceEndpoint, type VoiceEndpoint } from "./endpoint.ts";
import type { MicChunk } from "./mic_worklet.ts";
import { describeMicrophoneError, Microphone, type MicrophoneOptions } from "./microphone.ts";
import { base64ToBytes, bytesToBase64, pcm16DurationMs } from "./pcm.ts";
import { truncationPoint } from "./playback_ledger.ts";
import { AudioPlayer } from "./player.ts";
import { defaultReconnectPolicy, type ReconnectPolicy } from "./reconnect.ts";
import type { Voice } from "./voices.ts";

export { resolveVoiceEndpoint } from "./endpoint.ts";
export type {
  VoiceEndpoint,
  VoiceEndpointCandidate,
  VoiceEndpointEnv,
  VoiceEndpointKind,
} from "./endpoint.ts";
export { isVoice, type Voice, VOICES } from "./voices.ts";
export type { MicrophoneOptions } from "./microphone.ts";
export type { ReconnectPolicy } from "./reconnect.ts";
export type { PlannedEnd } from "./continuity.ts";

/**
 * `idle` before {@link VoiceClient.connect}; `connecting` until the session is set up; `ready`
 * connected with the microphone off; `listening` connected with the microphone on; `speaking` while
 * the assistant's audio plays; `reconnecting` between attempts (after an abnormal end, or when the relay
 * ended the session on purpose); `closed` for good.
 */
export type VoiceState =
  | "idle"
  | "connecting"
  | "ready"
  | "listening"
  | "speaking"
  | "reconnecting"
  | "closed";

/** A transcript update: partial ones grow, the final one replaces them. */
export interface TranscriptEvent {
  role: "user" | "assistant";
  /** The conversation item it belongs to; updates of one item share it. */
  itemId: string;
  /** The whole text so far (not just the newest piece). */
  text: string;
  final: boolean;
  /** The assistant was cut off by the user (barge-in); `text` may include words never heard. */
  interrupted?: boolean;
}

/** Something went wrong, in plain words. */
export interface VoiceClientError {
  kind: "connection" | "server" | "microphone" | "audio";
  /** A sentence for the person using the app. */
  message: string;
  /** The close code or the server's error code. */
  code?: number | string;
  /** True when the client stopped because of it (no reconnect follows). */
  fatal: boolean;
}

/** Audio levels (RMS, 0..1) for a visualiser, about 20 times a second while connected. */
export interface AudioLevel {
  input: number;
  output: number;
}

/** Barge-in: the assistant was stopped and its item truncated to what was heard. */
export interface InterruptionEvent {
  itemId: string;
  /** The `audio_end_ms` sent with `conversation.item.truncate`. */
  audioEndMs: number;
  /** Audio received for the item when it was cut. */
  receivedMs: number;
}

/** A server event as received (every one is passed on, for apps that need more than the summaries). */
export type ServerEvent = { type: string; [field: string]: unknown };

/** The events of a {@link VoiceClient}. */
export interface VoiceClientEvents {
  state: VoiceState;
  transcript: TranscriptEvent;
  error: VoiceClientError;
  level: AudioLevel;
  interrupted: InterruptionEvent;
  server_event: ServerEvent;
}

/** What the endpoint function gets on each attempt (issue: move from the edge to the VPS relay). */
export interface ConnectAttempt {
  /** 0 for the first connection, then 1, 2... per reconnect attempt since the last good session. */
  attempt: number;
  /** How the previous socket ended, on reconnects. */
  lastClose?: { code: number; reason: string };
  /** What the relay announced before closing the previous socket (`relay.session_ending`, `relay.draining`). */
  plannedEnd?: PlannedEnd;
  /**
   * True once a session was cut by the edge platform's time limit: a returned endpoint of kind `edge`
   * is then replaced by its `vps` candidate when it has one.
   */
  leftEdge: boolean;
}

/** Options for {@link VoiceClient}. */
export interface VoiceClientOptions {
  /** The user's access token, or a function returning a fresh one (called on every connect). */
  token: string | (() => string | Promise<string>);
  /**
   * Where to connect: a URL, a resolved endpoint, or a function of the attempt. Default: resolved from
   * no variables, i.e. the page's own origin.
   */
  endpoint?: string | VoiceEndpoint | ((attempt: ConnectAttempt) => string | VoiceEndpoint);
  /**
   * The assistant's voice, sent as `?voice=`: the relay puts it in the session it configures (it owns
   * the session's settings; the API refuses voice changes once the assistant has spoken).
   */
  voice?: Voice;
  /**
   * Extra query parameters for the relay (`model`, `agent_id`, `conversation_id`), read per attempt. Pass
   * `conversation_id` to continue an earlier conversation (e.g. after a page reload); reconnects carry the
   * relay's id for the conversation by themselves.
   */
  query?: Record<string, string | undefined> | (() => Record<string, string | undefined>);
  /** Reconnect tuning, or `false` to never reconnect. */
  reconnect?: Partial<ReconnectPolicy> | false;
  microphone?: MicrophoneOptions;
  /** Delay before the first assistant chunk after silence (jitter room); default 80 ms. */
  playbackLeadMs?: number;
  /** Use this AudioContext instead of creating one (the client then leaves it open on close). */
  audioContext?: AudioContext;
}

/** Counters for diagnostics and tests. */
export interface VoiceClientStats {
  inputChunksSent: number;
  inputMsSent: number;
  outputChunksReceived: number;
  outputMsReceived: number;
  outputUnderruns: number;
  interruptions: number;
  reconnects: number;
}

/** Items whose transcripts and interruption marks are kept (older ones are forgotten). */
const rememberedItems = 32;
/** How often `level` is emitted while connected. */
const levelIntervalMs = 50;

/** A voice session with the relay. Call {@link connect} from a user gesture. */
export class VoiceClient {
  private readonly events = new Emitter<VoiceClientEvents>();
  private readonly policy: ReconnectPolicy | undefined;
  private currentState: VoiceState = "idle";
  private socket: WebSocket | undefined;
  private sessionReady = false;
  private context: AudioContext | undefined;
  private player: AudioPlayer | undefined;
  private microphone: Microphone | undefined;
  private microphoneOpening: Promise<void> | undefined;
  private microphoneWanted = false;
  private attempt = 0;
  private lastClose: { code: number; reason: string } | undefined;
  /** What the relay announced on the current socket before closing it. */
  private plannedEnd: PlannedEnd | undefined;
  /** The planned end of the previous socket, for the endpoint function. */
  private lastPlannedEnd: PlannedEnd | undefined;
  /** Sticky: the edge platform's time limit cut a session, so the `vps` candidate is preferred. */
  private leftEdge = false;
  /** The current socket carried a `conversation_id` the client added (not one the app asked for). */
  private sentRememberedConversation = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private levelTimer: ReturnType<typeof setInterval> | undefined;
  private inputLevel = 0;
  private closedByUser = false;
  private firstConnect: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private connecting: Promise<void> | undefined;
  private currentConversationId: string | undefined;
  private readonly transcripts = new Map<string, string>();
  private readonly interruptedItems = new Set<string>();
  private readonly counters: VoiceClientStats = {
    inputChunksSent: 0,
    inputMsSent: 0,
    outputChunksReceived: 0,
    outputMsReceived: 0,
    outputUnderruns: 0,
    interruptions: 0,
    reconnects: 0,
  };

  constructor(private readonly options: VoiceClientOptions) {
    this.policy = options.reconnect === false
      ? undefined
      : { ...defaultReconnectPolicy, ...options.reconnect };
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof VoiceClientEvents>(
    name: K,
    listener: (value: VoiceClientEvents[K]) => void,
  ): () => void {
    return this.events.on(name, listener);
  }

  /** The current connection state. */
  get state(): VoiceState {
    return this.currentState;
  }

  /** True while the microphone is wanted on (it is open whenever the session is up). */
  get microphoneEnabled(): boolean {
    return this.microphoneWanted;
  }

  /**
   * The relay's id for this conversation (from its `relay.conversation` notice), once known. Reconnects
   * send it as `?conversation_id=`, so the relay replays the earlier turns to the new upstream session.
   */
  get conversationId(): string | undefined {
    return this.currentConversationId;
  }

  /** Counters for diagnostics. */
  stats(): VoiceClientStats {
    return { ...this.counters, outputUnderruns: this.player?.underruns ?? 0 };
  }

  /**
   * Opens the session. Resolves once the relay's upstream session is set up; rejects when the relay
   * refuses (bad token, 4001/4003/4029) or every reconnect attempt failed. Call it from a click or key
   * handler: it creates the AudioContext, which browsers only start after a user gesture.
   */
  connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    if (this.currentState === "closed") throw new Error("This VoiceClient was closed; create a new one.");
    // Created synchronously, while the user's gesture still counts.
    const context = this.options.audioContext ?? new AudioContext({ latencyHint: "interactive" });
    this.context = context;
    this.player = new AudioPlayer(context, {
      leadMs: this.options.playbackLeadMs,
      onIdle: () => this.refreshState(),
    });
    void context.resume().catch(() => {});
    this.connecting = new Promise<void>((resolve, reject) => (this.firstConnect = { resolve, reject }));
    this.connecting.catch(() => {}); // the caller may not await it; failures are also emitted as `error`
    this.levelTimer = setInterval(() => this.emitLevel(), levelIntervalMs);
    this.setState("connecting");
    void this.open();
    return this.connecting;
  }

  /** Turns the microphone on or off. Off releases the device and clears audio not yet committed. */
  async setMicrophoneEnabled(enabled: boolean): Promise<void> {
    this.microphoneWanted = enabled;
    if (!enabled) {
      this.closeMicrophone();
      if (this.sessionReady) this.send({ type: "input_audio_buffer.clear" });
      this.refreshState();
      return;
    }
    await this.openMicrophone();
    this.refreshState();
  }

  /** Flips the microphone; resolves with the new setting. */
  async toggleMicrophone(): Promise<boolean> {
    await this.setMicrophoneEnabled(!this.microphoneWanted);
    return this.microphoneWanted;
  }

  /** Sends a client event as is (for apps that need more than the built-in behaviour). */
  send(event: Record<string, unknown>): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(event));
    return true;
  }

  /** Ends the session for good: closes the socket (1000), releases the microphone, stops playback. */
  async close(): Promise<void> {
    if (this.currentState === "closed") return;
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.levelTimer);
    this.microphoneWanted = false;
    this.closeMicrophone();
    this.player?.dispose();
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "client closed");
    this.firstConnect?.reject(new Error("closed before the session started"));
    this.firstConnect = undefined;
    this.setState("closed");
    if (this.context && !this.options.audioContext) await this.context.close().catch(() => {});
  }

  private setState(state: VoiceState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.events.emit("state", state);
  }

  /** The state that follows from the session, the microphone and playback. */
  private refreshState(): void {
    if (!this.sessionReady || this.currentState === "closed") return;
    if (this.player?.playing) this.setState("speaking");
    else if (this.microphoneWanted && this.microphone) this.setState("listening");
    else this.setState("ready");
  }

  private async token(): Promise<string> {
    const token = typeof this.options.token === "function" ? await this.options.token() : this.options.token;
    if (!token) throw new Error("No access token: sign in first.");
    return token;
  }

  private url(): string {
    const chosen = typeof this.options.endpoint === "function"
      ? this.options.endpoint({
        attempt: this.attempt,
        lastClose: this.lastClose,
        plannedEnd: this.lastPlannedEnd,
        leftEdge: this.leftEdge,
      })
      : this.options.endpoint ?? resolveVoiceEndpoint({});
    const url = new URL(endpointUrl(chosen, this.leftEdge));
    const query = typeof this.options.query === "function" ? this.options.query() : this.options.query ?? {};
    // The relay's id wins over the app's: it is the conversation this client is in.
    const remembered = this.currentConversationId;
    this.sentRememberedConversation = remembered !== undefined && query.conversation_id !== remembered;
    const parameters = {
      voice: this.options.voice,
      ...query,
      conversation_id: remembered ?? query.conversation_id,
    };
    for (const [key, value] of Object.entries(parameters)) {
      if (value) url.searchParams.set(key, value);
    }
    return url.href;
  }

  private async open(): Promise<void> {
    let socket: WebSocket;
    try {
      const token = await this.token();
      if (this.closedByUser) return;
      // The token travels as a subprotocol, which proxies do not log; `realtime` is what the relay selects.
      socket = new WebSocket(this.url(), ["realtime", `openai-insecure-api-key.${token}`]);
    } catch (error) {
      this.fail("connection", error instanceof Error ? error.message : String(error));
      return;
    }
    this.socket = socket;
    this.plannedEnd = undefined;
    socket.onmessage = (message) => {
      if (this.socket !== socket || typeof message.data !== "string") return;
      let event: ServerEvent;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && typeof event.type === "string") this.receive(event);
    };
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.disconnected(close.code, close.reason);
    };
  }

  /**
   * The socket ended: carry on at once after a planned end, reconnect with backoff after an abnormal
   * end, otherwise stop with the reason (the policy is `nextStepAfterClose` in `continuity.ts`).
   */
  private disconnected(code: number, reason: string): void {
    const sessionStarted = this.sessionReady;
    this.sessionReady = false;
    this.player?.stop();
    if (this.closedByUser) return;
    this.lastClose = { code, reason };
    this.lastPlannedEnd = this.plannedEnd;
    const message = describeClose(code, reason);
    const step = nextStepAfterClose({
      code,
      plannedEnd: this.plannedEnd,
      attemptsSoFar: this.attempt,
      sentRememberedConversation: this.sentRememberedConversation,
      sessionStarted,
    }, this.policy);
    if (step.action === "reconnect") {
      this.attempt++;
      this.counters.reconnects++;
      if (step.leaveEdge) this.leftEdge = true;
      if (step.forgetConversation) {
        this.currentConversationId = undefined;
        this.events.emit("error", {
          kind: "connection",
          message: `The conversation could not be resumed${
            reason.trim() ? ` (${reason.trim()})` : ""
          }; starting a new one…`,
          code,
          fatal: false,
        });
      } else if (!step.planned) {
        this.events.emit("error", {
          kind: "connection",
          message: `${message} Reconnecting…`,
          code,
          fatal: false,
        });
      }
      this.setState("reconnecting");
      this.reconnectTimer = setTimeout(() => void this.open(), step.delayMs);
      return;
    }
    if (code === 1000) {
      this.finish();
      return;
    }
    this.fail("connection", message, code);
  }

  private fail(kind: VoiceClientError["kind"], message: string, code?: number): void {
    this.events.emit("error", { kind, message, code, fatal: true });
    this.firstConnect?.reject(new Error(message));
    this.firstConnect = undefined;
    this.finish();
  }

  private finish(): void {
    clearInterval(this.levelTimer);
    this.closeMicrophone();
    this.player?.stop();
    this.setState("closed");
    if (this.context && !this.options.audioContext) void this.context.close().catch(() => {});
  }

  private receive(event: ServerEvent): void {
    switch (event.type) {
      case "session.created":
        this.sessionStarted();
        break;
      case "relay.conversation":
        if (typeof event.conversation_id === "string") this.currentConversationId = event.conversation_id;
        break;
      case "relay.session_ending":
      case "relay.draining":
        // Kept until the relay closes this socket (at a pause between turns), then acted on.
        this.plannedEnd = plannedEndOf(event) ?? this.plannedEnd;
        break;
      case "response.output_audio.delta":
      case "response.audio.delta":
        this.playDelta(event);
        break;
      case "input_audio_buffer.speech_started":
        if (this.player?.playing) this.bargeIn();
        break;
      case "conversation.item.input_audio_transcription.delta":
        this.transcriptPiece("user", event, "delta");
        break;
      case "conversation.item.input_audio_transcription.completed":
        this.transcriptFinal("user", event, "transcript");
        break;
      case "conversation.item.input_audio_transcription.failed":
        this.events.emit("error", {
          kind: "server",
          message: `What you said could not be transcribed. (${describeServerError(event.error as never)})`,
          fatal: false,
        });
        break;
      case "response.output_audio_transcript.delta":
      case "response.audio_transcript.delta":
      case "response.output_text.delta":
      case "response.text.delta":
        this.transcriptPiece("assistant", event, "delta");
        break;
      case "response.output_audio_transcript.done":
      case "response.audio_transcript.done":
        this.transcriptFinal("assistant", event, "transcript");
        break;
      case "response.output_text.done":
      case "response.text.done":
        this.transcriptFinal("assistant", event, "text");
        break;
      case "error": {
        const error = event.error as { code?: string; message?: string } | undefined;
        this.events.emit("error", {
          kind: "server",
          message: describeServerError(error),
          code: error?.code ?? undefined,
          fatal: false,
        });
        break;
      }
    }
    this.events.emit("server_event", event);
  }

  private sessionStarted(): void {
    this.sessionReady = true;
    this.attempt = 0;
    this.firstConnect?.resolve();
    this.firstConnect = undefined;
    if (this.microphoneWanted) void this.openMicrophone();
    this.refreshState();
  }

  private playDelta(event: ServerEvent): void {
    const itemId = typeof event.item_id === "string" ? event.item_id : "";
    if (!this.player || typeof event.delta !== "string" || this.interruptedItems.has(itemId)) return;
    let pcm: Uint8Array;
    try {
      pcm = base64ToBytes(event.delta);
    } catch {
      this.events.emit("error", {
        kind: "audio",
        message: "Received assistant audio that could not be decoded.",
        fatal: false,
      });
      return;
    }
    this.counters.outputChunksReceived++;
    this.counters.outputMsReceived += pcm16DurationMs(pcm.byteLength);
    this.player.enqueue(itemId, pcm);
    this.refreshState();
  }

  /**
   * The user started talking over the assistant: stop at once, and tell the model how much was heard
   * so the unheard rest is dropped from the conversation (never more than was received: the API
   * refuses that).
   */
  private bargeIn(): void {
    for (const cut of this.player!.stop()) {
      const audioEndMs = truncationPoint(cut);
      this.remember(this.interruptedItems, cut.itemId);
      this.send({
        type: "conversation.item.truncate",
        item_id: cut.itemId,
        content_index: 0,
        audio_end_ms: audioEndMs,
      });
      this.counters.interruptions++;
      this.events.emit("interrupted", { itemId: cut.itemId, audioEndMs, receivedMs: cut.receivedMs });
    }
    this.refreshState();
  }

  private transcriptPiece(role: TranscriptEvent["role"], event: ServerEvent, field: string): void {
    const itemId = typeof event.item_id === "string" ? event.item_id : "";
    const piece = typeof event[field] === "string" ? event[field] as string : "";
    const text = (this.transcripts.get(itemId) ?? "") + piece;
    this.transcripts.delete(itemId);
    this.transcripts.set(itemId, text);
    while (this.transcripts.size > rememberedItems) {
      this.transcripts.delete(this.transcripts.keys().next().value!);
    }
    this.events.emit("transcript", { role, itemId, text, final: false });
  }

  private transcriptFinal(role: TranscriptEvent["role"], event: ServerEvent, field: string): void {
    const itemId = typeof event.item_id === "string" ? event.item_id : "";
    const text = typeof event[field] === "string"
      ? event[field] as string
      : this.transcripts.get(itemId) ?? "";
    this.transcripts.delete(itemId);
    const interrupted = this.interruptedItems.has(itemId);
    this.events.emit("transcript", {
      role,
      itemId,
      text,
      final: true,
      ...(interrupted ? { interrupted } : {}),
    });
  }

  private remember(set: Set<string>, id: string): void {
    set.add(id);
    while (set.size > rememberedItems) set.delete(set.values().next().value!);
  }

  private openMicrophone(): Promise<void> {
    if (this.microphone || !this.context) return Promise.resolve();
    this.microphoneOpening ??= Microphone.open(
      this.context,
      (chunk) => this.sendChunk(chunk),
      this.options.microphone,
    )
      .then((microphone) => {
        if (!this.microphoneWanted || this.currentState === "closed") microphone.close();
        else this.microphone = microphone;
      })
      .catch((error) => {
        this.microphoneWanted = false;
        this.events.emit("error", {
          kind: "microphone",
          message: describeMicrophoneError(error),
          fatal: false,
        });
      })
      .finally(() => {
        this.microphoneOpening = undefined;
        this.refreshState();
      });
    return this.microphoneOpening;
  }

  private closeMicrophone(): void {
    this.microphone?.close();
    this.microphone = undefined;
    this.inputLevel = 0;
  }

  private sendChunk(chunk: MicChunk): void {
    this.inputLevel = chunk.rms;
    // Audio captured while disconnected is dropped: sent late, it would be heard as the user's words.
    if (!this.sessionReady || !this.microphoneWanted) return;
    if (this.send({ type: "input_audio_buffer.append", audio: bytesToBase64(chunk.pcm) })) {
      this.counters.inputChunksSent++;
      this.counters.inputMsSent += pcm16DurationMs(chunk.pcm.byteLength);
    }
  }

  private emitLevel(): void {
    const output = this.player?.outputLevel() ?? 0;
    this.events.emit("level", { input: this.microphone ? this.inputLevel : 0, output });
    // Playback may have ended between chunks without an `ended` callback (stopped sources).
    if (this.currentState === "speaking" && !this.player?.playing) this.refreshState();
  }
}
