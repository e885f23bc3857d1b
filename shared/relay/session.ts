/**
 * One relayed conversation: a client socket, an upstream socket, and the frames between them.
 *
 * Frames pass through untouched and in order, text as text and binary as binary. Client frames sent
 * before the upstream opens wait in a bounded queue and are delivered, in order, once it opens. A
 * client that cannot keep up loses assistant audio deltas (counted) past a soft bound and is closed
 * past a hard bound, so the relay never buffers without limit.
 *
 * @module
 */
import type { DialRequest, FrameData, RelaySocket, RuntimeAdapter, SocketHandlers } from "../adapter.ts";
import type { CredentialCarrier } from "../auth/credentials.ts";
import type { RelayConfig } from "../config.ts";
import type { Logger } from "../observability/log.ts";
import type { RelayMetrics } from "../observability/relay_metrics.ts";
import { relayErrorEvent } from "../protocol/relay_events.ts";
import { sniffEventType } from "../protocol/sniff.ts";
import { clientCodeForUpstreamClose, CloseCode } from "./close_codes.ts";

/** Who the session is for and where it goes; fixed when the session is created. */
export interface SessionIdentity {
  sessionId: string;
  userId: string;
  carrier: CredentialCarrier;
  model: string;
  clientAddress: string | undefined;
  agentId: string | null;
  conversationId: string;
  voice: string;
}

/** Services a session uses. */
export interface SessionServices {
  config: RelayConfig;
  adapter: RuntimeAdapter;
  log: Logger;
  metrics: RelayMetrics;
}

/** Why and how a session ended; passed to {@link SessionHooks.onEnd}. */
export interface SessionEnd {
  clientCode: number;
  clientReason: string;
  upstreamCode: number | undefined;
  upstreamReason: string | undefined;
  durationMs: number;
}

/**
 * Extension points for features that watch or shape the stream (storage, guardrails). They run inline
 * on the relay path, so they must be cheap and must never throw.
 */
export interface SessionHooks {
  /** Runs once the client socket is open (relay notices to the client go here). */
  onClientOpen?(session: RelaySession): void;
  /** Runs once the upstream is open, before any queued client frame is delivered. */
  onUpstreamOpen?(session: RelaySession): void;
  /**
   * Sees each client text frame and its sniffed type. Returns true to forward it, false to drop it (the
   * hook has answered the client itself), or a replacement frame to forward instead.
   */
  onClientText?(session: RelaySession, type: string | undefined, text: string): boolean | string;
  /** Sees each client binary frame; same contract as {@link onClientText} (no replacement). */
  onClientBinary?(session: RelaySession, bytes: Uint8Array): boolean;
  /** Sees each upstream text frame that is not assistant audio. */
  onUpstreamEvent?(session: RelaySession, type: string | undefined, text: string): void;
  /** Runs once when the session has ended. */
  onEnd?(session: RelaySession, end: SessionEnd): void;
}

type Phase = "dialing" | "open" | "closed";

const audioDeltaTypes = new Set(["response.output_audio.delta", "response.audio.delta"]);

/** Bridges one client socket to one upstream socket. */
export class RelaySession {
  readonly startedAt: number;
  /** Resolves when both sockets are done with; the edge keeps its invocation alive until then. */
  readonly finished: Promise<SessionEnd>;
  upstreamOpenedAt: number | undefined;
  framesToUpstream = 0;
  bytesToUpstream = 0;
  framesToClient = 0;
  bytesToClient = 0;
  droppedForSlowClient = 0;

  private phase: Phase = "dialing";
  private client: RelaySocket | undefined;
  private upstream: RelaySocket | undefined;
  private readonly pending: FrameData[] = [];
  /** Upstream frames that arrived before the client socket finished opening (the dial overlaps the upgrade). */
  private readonly pendingToClient: FrameData[] = [];
  private pendingBytes = 0;
  private clientAlive = true;
  private upstreamAlive = true;
  private lastUpstreamErrorCode: string | undefined;
  private upstreamClose: { code: number; reason: string } | undefined;
  private relayClose: { code: number; reason: string } | undefined;
  private dialTimer: ReturnType<typeof setTimeout> | undefined;
  private slowClientLogged = false;
  private responseActive = false;
  private userSpeaking = false;
  private pauseWaiters: Array<() => void> = [];
  private responseStarted = false;
  private answerDueTimer: ReturnType<typeof setTimeout> | undefined;
  private resolveFinished!: (end: SessionEnd) => void;

  /** Handlers to hand to the runtime's upgrade of the client socket. */
  readonly clientHandlers: SocketHandlers;

  constructor(
    readonly identity: SessionIdentity,
    private readonly upstreamRequest: DialRequest,
    private readonly services: SessionServices,
    private readonly hooks: SessionHooks = {},
  ) {
    this.startedAt = services.adapter.now();
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.clientHandlers = {
      onOpen: (socket) => this.onClientOpen(socket),
      onMessage: (data) => this.onClientMessage(data),
      onClose: (code, reason) => this.onClientClose(code, reason),
      onPong: () => (this.clientAlive = true),
    };
  }

  /** Dials the upstream; call right after the client upgrade so the dial overlaps the handshake. */
  start(): void {
    const { adapter, config } = this.services;
    this.dialTimer = setTimeout(() => {
      if (this.phase !== "dialing") return;
      this.failUpstreamDial(`no answer within ${config.limits.upstreamDialTimeoutMs / 1000} s`);
    }, config.limits.upstreamDialTimeoutMs);
    adapter.dialWebSocket(this.upstreamRequest, {
      onOpen: (socket) => this.onUpstreamOpen(socket),
      onMessage: (data) => this.onUpstreamMessage(data),
      onClose: (code, reason) => this.onUpstreamClose(code, reason),
      onPong: () => (this.upstreamAlive = true),
    });
  }

  /** Sends a relay-originated text frame to the client (errors, notices). */
  sendToClient(text: string): void {
    if (this.client?.isOpen) this.client.send(text);
  }

  /** Sends a relay-originated text frame upstream, ahead of anything still queued. */
  sendToUpstream(text: string): void {
    if (this.upstream?.isOpen) this.upstream.send(text);
  }

  /** Ends the session from the relay's side: the client gets `code` and `reason`, upstream a normal close. */
  close(code: number, reason: string): void {
    if (this.relayClose) return;
    this.relayClose = { code, reason };
    this.upstream?.close(CloseCode.normal, "Relay session ended");
    if (this.client) this.client.close(code, reason);
    else this.end(code, reason);
  }

  /**
   * One keepalive round: a socket that has shown no sign of life since the previous round is dead;
   * the others get a ping. Runtimes without a ping API keep their sockets alive themselves.
   */
  keepalive(): void {
    if (this.phase === "closed") return;
    if (this.client && !this.clientAlive) {
      this.services.log.warn("client_unresponsive", {
        session: this.identity.sessionId,
        user: this.identity.userId,
      });
      this.close(CloseCode.goingAway, "Client stopped answering pings");
      this.end(CloseCode.goingAway, "Client stopped answering pings");
      return;
    }
    if (this.upstream && this.phase === "open" && !this.upstreamAlive) {
      this.sendToClient(
        relayErrorEvent("upstream_unresponsive", "The OpenAI Realtime API stopped responding."),
      );
      this.close(CloseCode.internalError, "Upstream stopped answering pings");
      return;
    }
    if (this.client?.ping()) this.clientAlive = false;
    if (this.phase === "open" && this.upstream?.ping()) this.upstreamAlive = false;
  }

  /** True once the session has fully ended. */
  get isClosed(): boolean {
    return this.phase === "closed";
  }

  private onClientOpen(socket: RelaySocket): void {
    this.client = socket;
    if (this.relayClose) {
      socket.close(this.relayClose.code, this.relayClose.reason);
      return;
    }
    this.hooks.onClientOpen?.(this);
    const early = this.pendingToClient.splice(0);
    for (const frame of early) this.onUpstreamMessage(frame);
  }

  private onClientMessage(data: FrameData): void {
    this.clientAlive = true;
    if (this.relayClose) return;
    if (typeof data === "string") {
      if (this.hooks.onClientText) {
        const verdict = this.hooks.onClientText(this, sniffEventType(data), data);
        if (verdict === false) return;
        if (typeof verdict === "string") data = verdict;
      }
    } else if (this.hooks.onClientBinary && !this.hooks.onClientBinary(this, data)) {
      return;
    }
    if (this.phase === "open" && this.pending.length === 0) {
      this.forwardToUpstream(data);
      return;
    }
    if (this.phase === "closed") return;
    const size = typeof data === "string" ? data.length : data.byteLength;
    const { upstreamQueueMaxMessages, upstreamQueueMaxBytes } = this.services.config.limits;
    if (this.pending.length >= upstreamQueueMaxMessages || this.pendingBytes + size > upstreamQueueMaxBytes) {
      const dropped = this.pending.length + 1;
      this.services.metrics.queueDrops.inc({ reason: "queue_full" }, dropped);
      this.services.log.warn("upstream_queue_full", {
        session: this.identity.sessionId,
        user: this.identity.userId,
        queued: this.pending.length,
        queuedBytes: this.pendingBytes,
        limit:
          `UPSTREAM_QUEUE_MAX_MESSAGES=${upstreamQueueMaxMessages}, UPSTREAM_QUEUE_MAX_BYTES=${upstreamQueueMaxBytes}`,
      });
      this.pending.length = 0;
      this.pendingBytes = 0;
      this.sendToClient(relayErrorEvent(
        "relay_queue_full",
        "The upstream session is not open yet and the relay's queue for it is full; reconnect and try again.",
      ));
      this.close(CloseCode.tryAgainLater, "Upstream not ready: relay queue full");
      return;
    }
    this.pending.push(data);
    this.pendingBytes += size;
  }

  private forwardToUpstream(data: FrameData): void {
    const upstream = this.upstream!;
    if (upstream.bufferedAmount > this.services.config.limits.clientBufferHardLimitBytes) {
      this.sendToClient(
        relayErrorEvent("upstream_backlog", "The connection to the OpenAI Realtime API is not keeping up."),
      );
      this.close(CloseCode.tryAgainLater, "Upstream not keeping up");
      return;
    }
    upstream.send(data);
    const size = typeof data === "string" ? data.length : data.byteLength;
    this.framesToUpstream++;
    this.bytesToUpstream += size;
    const traffic = this.services.metrics.traffic;
    traffic.framesToUpstream++;
    traffic.bytesToUpstream += size;
  }

  private onClientClose(code: number, reason: string): void {
    if (this.upstream && this.phase === "open") {
      this.upstream.close(CloseCode.normal, "Client closed the session");
    }
    const final = this.relayClose ?? { code, reason };
    this.end(final.code, final.reason);
  }

  private onUpstreamOpen(socket: RelaySocket): void {
    clearTimeout(this.dialTimer);
    this.upstream = socket;
    if (this.phase === "closed" || this.relayClose) {
      socket.close(CloseCode.normal, "Client left before upstream opened");
      return;
    }
    this.phase = "open";
    const now = this.services.adapter.now();
    this.upstreamOpenedAt = now;
    const dialMs = now - this.startedAt;
    this.services.metrics.upstreamDialSeconds.observe(dialMs / 1000);
    this.services.log.info("upstream_open", {
      session: this.identity.sessionId,
      dialMs,
      model: this.identity.model,
    });
    this.hooks.onUpstreamOpen?.(this);
    // Delivered in arrival order; the client's later frames queue behind these until the loop ends.
    for (let i = 0; i < this.pending.length && !this.relayClose; i++) this.forwardToUpstream(this.pending[i]);
    this.pending.length = 0;
    this.pendingBytes = 0;
  }

  private onUpstreamMessage(data: FrameData): void {
    this.upstreamAlive = true;
    const client = this.client;
    if (!client) {
      // Deno opens the server socket a tick after the upgrade; the upstream may already be talking.
      if (
        this.phase !== "closed" &&
        this.pendingToClient.length < this.services.config.limits.upstreamQueueMaxMessages
      ) {
        this.pendingToClient.push(data);
      }
      return;
    }
    if (!client.isOpen) return;
    let type: string | undefined;
    if (typeof data === "string") {
      type = sniffEventType(data);
      if (type === undefined || !audioDeltaTypes.has(type)) this.inspectUpstreamEvent(type, data);
    }
    const buffered = client.bufferedAmount;
    const limits = this.services.config.limits;
    if (buffered > limits.clientBufferSoftLimitBytes) {
      if (buffered > limits.clientBufferHardLimitBytes) {
        this.services.metrics.queueDrops.inc({ reason: "slow_client" });
        this.services.log.warn("client_too_slow", {
          session: this.identity.sessionId,
          user: this.identity.userId,
          bufferedBytes: buffered,
          limit: `CLIENT_BUFFER_HARD_LIMIT_BYTES=${limits.clientBufferHardLimitBytes}`,
        });
        this.close(CloseCode.policy, "Client too slow: unsent data over the relay's limit");
        return;
      }
      if (type !== undefined && audioDeltaTypes.has(type)) {
        this.droppedForSlowClient++;
        this.services.metrics.queueDrops.inc({ reason: "slow_client" });
        if (!this.slowClientLogged) {
          this.slowClientLogged = true;
          this.services.log.warn("client_slow_dropping_audio", {
            session: this.identity.sessionId,
            user: this.identity.userId,
            bufferedBytes: buffered,
            limit: `CLIENT_BUFFER_SOFT_LIMIT_BYTES=${limits.clientBufferSoftLimitBytes}`,
          });
        }
        return;
      }
    }
    client.send(data);
    const size = typeof data === "string" ? data.length : data.byteLength;
    this.framesToClient++;
    this.bytesToClient += size;
    const traffic = this.services.metrics.traffic;
    traffic.framesToClient++;
    traffic.bytesToClient += size;
  }

  /** True when neither the user is mid-utterance nor a response is being produced. */
  get betweenTurns(): boolean {
    return !this.responseActive && !this.userSpeaking;
  }

  /**
   * Runs `action` at the next pause between turns (at once when there is one now), so a planned end
   * (drain, time limit) does not cut a sentence in half.
   */
  atNextPause(action: () => void): void {
    if (this.phase === "closed") return;
    if (this.betweenTurns) queueMicrotask(action);
    else this.pauseWaiters.push(action);
  }

  private firePauseWaiters(): void {
    if (this.pauseWaiters.length === 0 || !this.betweenTurns || this.phase === "closed") return;
    const waiters = this.pauseWaiters;
    this.pauseWaiters = [];
    // After the current event has been forwarded, so the client has the turn's end before the close.
    queueMicrotask(() => waiters.forEach((w) => w()));
  }

  private inspectUpstreamEvent(type: string | undefined, text: string): void {
    switch (type) {
      case "input_audio_buffer.speech_started":
        this.userSpeaking = true;
        break;
      case "input_audio_buffer.speech_stopped":
      case "input_audio_buffer.committed":
        // The answer to a committed utterance is due: the turn is not over until it has been given
        // (or, when the app creates responses itself, until it evidently will not come).
        this.userSpeaking = false;
        this.responseActive = true;
        clearTimeout(this.answerDueTimer);
        this.answerDueTimer = setTimeout(() => {
          if (!this.responseStarted) this.responseActive = false;
          this.firePauseWaiters();
        }, 2000);
        break;
      case "response.created":
        this.responseActive = true;
        this.responseStarted = true;
        clearTimeout(this.answerDueTimer);
        break;
      case "response.done":
        this.responseActive = false;
        this.responseStarted = false;
        break;
    }
    this.firePauseWaiters();
    if (type === "error") {
      try {
        const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
        if (typeof code === "string") this.lastUpstreamErrorCode = code;
      } catch {
        // an unparsable error event is still forwarded as is
      }
    }
    this.hooks.onUpstreamEvent?.(this, type, text);
  }

  private onUpstreamClose(code: number, reason: string): void {
    clearTimeout(this.dialTimer);
    if (this.upstreamClose) return;
    this.upstreamClose = { code, reason };
    if (this.phase === "dialing") {
      this.failUpstreamDial(reason || `closed with ${code}`);
      return;
    }
    if (this.phase === "closed" || this.relayClose) return;
    const clientCode = clientCodeForUpstreamClose(code);
    const detail = this.lastUpstreamErrorCode ??
      (reason || (code === 1006 ? "connection lost" : `code ${code}`));
    this.services.log.info("upstream_closed", { session: this.identity.sessionId, code, reason: detail });
    this.close(clientCode, `Upstream closed: ${detail}`);
  }

  private failUpstreamDial(detail: string): void {
    if (this.phase !== "dialing") return;
    this.services.metrics.upstreamDialFailures.inc();
    this.services.log.error("upstream_dial_failed", {
      session: this.identity.sessionId,
      user: this.identity.userId,
      url: this.upstreamRequest.url.split("?")[0],
      detail,
    });
    this.upstream?.close(CloseCode.normal, "Dial abandoned");
    this.sendToClient(relayErrorEvent(
      "upstream_unavailable",
      `The relay could not connect to the OpenAI Realtime API (${detail}). Try again shortly.`,
    ));
    this.close(CloseCode.internalError, "Upstream connection failed");
  }

  private end(code: number, reason: string): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    clearTimeout(this.dialTimer);
    clearTimeout(this.answerDueTimer);
    this.pending.length = 0;
    this.pendingToClient.length = 0;
    const end: SessionEnd = {
      clientCode: code,
      clientReason: reason,
      upstreamCode: this.upstreamClose?.code,
      upstreamReason: this.upstreamClose?.reason,
      durationMs: this.services.adapter.now() - this.startedAt,
    };
    this.services.metrics.sessionsClosed.inc({ code: String(code) });
    this.services.log.info("session_closed", {
      session: this.identity.sessionId,
      user: this.identity.userId,
      code,
      reason,
      upstreamCode: end.upstreamCode ?? null,
      upstreamReason: end.upstreamReason ?? null,
      durationMs: end.durationMs,
      framesToUpstream: this.framesToUpstream,
      bytesToUpstream: this.bytesToUpstream,
      framesToClient: this.framesToClient,
      bytesToClient: this.bytesToClient,
      droppedForSlowClient: this.droppedForSlowClient,
    });
    try {
      this.hooks.onEnd?.(this, end);
    } finally {
      this.resolveFinished(end);
    }
  }
}
