/**
 * The relay as a Hono app: `/health`, `/metrics`, and the WebSocket endpoint at `/` and `/v1/realtime`.
 * Every entry point (Deno server, Node fallback, Supabase Edge Function) builds it with its own
 * {@link RuntimeAdapter}; nothing here knows which runtime it is on.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { RuntimeAdapter } from "./adapter.ts";
import { extractCredential, parseOfferedProtocols, selectProtocol } from "./auth/credentials.ts";
import type { VerifyResult } from "./auth/jwt.ts";
import type { RelayConfig } from "./config.ts";
import type { Logger } from "./observability/log.ts";
import { Counter, Gauge, ObservedCounter } from "./observability/metrics.ts";
import { createRelayMetrics, type RelayMetrics } from "./observability/relay_metrics.ts";
import { relayErrorEvent, relayEventId, relayNotice } from "./protocol/relay_events.ts";
import { isRealtimeVoice } from "./protocol/voices.ts";
import { resolveSessionSettings, sessionUpdateEvent } from "./relay/agent_session.ts";
import { combineHooks } from "./relay/hooks.ts";
import { historyItemEvents } from "./relay/resume.ts";
import { AttemptLimiter, originAllowed } from "./guard/attempt_limiter.ts";
import { createClientGuard } from "./guard/client_guard.ts";
import {
  type Admission,
  FORBIDDEN_CLOSE_CODE,
  type SessionPersistence,
} from "./storage/session_persistence.ts";
import { CloseCode } from "./relay/close_codes.ts";
import { SessionRegistry } from "./relay/registry.ts";
import { RelaySession, type SessionHooks, type SessionIdentity } from "./relay/session.ts";
import { chooseModel, upstreamDialRequest } from "./relay/upstream.ts";
import { RELAY_VERSION } from "./version.ts";

/** What {@link createRelayApp} needs. */
export interface RelayAppOptions {
  config: RelayConfig;
  adapter: RuntimeAdapter;
  log: Logger;
  /** Checks a user's access token (see `auth/jwt.ts`). */
  verifyToken: (token: string) => Promise<VerifyResult>;
  /** Mount point: `/realtime-voice` inside the Supabase function, empty elsewhere. */
  basePath?: string;
  /** Connect checks and recording against the database; absent, `agent_id`/`conversation_id` are refused. */
  persistence?: SessionPersistence;
  /** Extra behaviour per session (guardrails). */
  sessionHooks?: (identity: SessionIdentity) => SessionHooks;
  /** Registers routes ahead of the WebSocket endpoint (the demo page at `/`, which passes upgrades on). */
  beforeRoutes?: (app: Hono) => void;
}

/** The app plus the state entries need for shutdown and tests. */
export interface RelayApp {
  app: Hono;
  registry: SessionRegistry;
  metrics: RelayMetrics;
}

/** Where the client connected from, as the proxy in front reports it. */
function clientAddress(c: Context): string | undefined {
  const forwarded = c.req.header("x-forwarded-for");
  return forwarded ? forwarded.split(",")[0].trim() : c.req.header("x-real-ip") ?? undefined;
}

/** Builds the relay's Hono app. */
export function createRelayApp(options: RelayAppOptions): RelayApp {
  const { config, adapter, log } = options;
  const registry = new SessionRegistry(config.maxConnections);
  const metrics = createRelayMetrics(() => registry.active);
  const refusedEvents = metrics.registry.add(
    new Counter(
      "relay_client_events_refused_total",
      "Client frames answered with an error and not forwarded, by reason.",
    ),
  );
  const attemptsPerIp = new AttemptLimiter(config.guard.connectAttemptsPerMinutePerIp, adapter.now);
  const attemptsPerUser = new AttemptLimiter(config.guard.connectAttemptsPerMinutePerUser, adapter.now);
  // Below the edge platform's wall clock (150 s on the free plan), below OpenAI's 60 minutes elsewhere.
  const onEdge = adapter.runtime === "supabase-edge";
  const maxSessionSeconds = config.guard.maxSessionSeconds ||
    (onEdge ? Math.max(10, config.guard.edgeWallClockSeconds - 10) : 3540);
  const startedAt = adapter.now();
  // strict: false so `/realtime-voice/` and `/realtime-voice` (and `/v1/realtime/`) both match.
  const app = options.basePath
    ? new Hono({ strict: false }).basePath(options.basePath)
    : new Hono({ strict: false });

  /** Accepts the socket only to close it at once: browsers cannot read an HTTP status on a failed upgrade. */
  const refuse = (c: Context, protocol: string | undefined, code: number, reason: string, event?: string) =>
    adapter.upgradeWebSocket(c, protocol, {
      onOpen(socket) {
        if (event) socket.send(event);
        socket.close(code, reason);
      },
      onMessage() {},
      onClose() {},
    });

  const handleWebSocket = async (c: Context) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "This endpoint expects a WebSocket upgrade (OpenAI Realtime protocol)." }, 426);
    }
    const offered = parseOfferedProtocols(c.req.header("sec-websocket-protocol"));
    const protocol = selectProtocol(offered);
    const address = clientAddress(c);
    if (!originAllowed(c.req.header("origin"), config.guard.allowedOrigins)) {
      metrics.connectionsRefused.inc({ reason: "origin" });
      log.warn("origin_refused", { origin: c.req.header("origin") ?? null, client: address });
      return refuse(c, protocol, CloseCode.policy, "Origin not allowed");
    }
    if (address !== undefined && !attemptsPerIp.allow(address)) {
      metrics.connectionsRefused.inc({ reason: "attempts_ip" });
      log.warn("too_many_attempts", {
        client: address,
        limit: `CONNECT_ATTEMPTS_PER_MINUTE_PER_IP=${config.guard.connectAttemptsPerMinutePerIp}`,
      });
      return refuse(c, protocol, CloseCode.tooManyRequests, "Too many connection attempts; slow down");
    }
    if (registry.draining) {
      // A plain HTTP refusal, so a proxy in front (nginx `proxy_next_upstream`) retries the handshake on
      // another instance within the same request instead of the client bouncing off this one.
      metrics.connectionsRefused.inc({ reason: "draining" });
      return c.text("Relay is draining; reconnect", 503, { "retry-after": "1" });
    }
    if (!registry.reserve()) {
      metrics.connectionsRefused.inc({ reason: "capacity" });
      log.warn("connection_refused", {
        reason: "capacity",
        active: registry.active,
        limit: `MAX_CONNECTIONS=${config.maxConnections}`,
      });
      return refuse(
        c,
        protocol,
        CloseCode.tryAgainLater,
        `Relay at capacity (${config.maxConnections} sessions)`,
      );
    }
    let upgraded = false;
    try {
      const credential = extractCredential(c.req.raw, offered);
      const verdict: VerifyResult = credential
        ? await options.verifyToken(credential.token)
        : { ok: false, reason: "missing", detail: "no token in subprotocol, Authorization header or query" };
      if (!verdict.ok) {
        metrics.authFailures.inc({ reason: verdict.reason });
        log.warn("auth_failed", {
          reason: verdict.reason,
          detail: verdict.detail,
          carrier: credential?.carrier ?? null,
          client: address,
        });
        // Supabase Auth being unreachable says nothing about the token: let the client retry.
        if (verdict.reason === "remote_unavailable") {
          return refuse(c, protocol, CloseCode.tryAgainLater, "Token check unavailable; try again shortly");
        }
        return refuse(c, protocol, CloseCode.unauthorized, "Unauthorized");
      }
      if (!attemptsPerUser.allow(verdict.userId)) {
        metrics.connectionsRefused.inc({ reason: "attempts_user" });
        log.warn("too_many_attempts", {
          user: verdict.userId,
          limit: `CONNECT_ATTEMPTS_PER_MINUTE_PER_USER=${config.guard.connectAttemptsPerMinutePerUser}`,
        });
        return refuse(c, protocol, CloseCode.tooManyRequests, "Too many connection attempts; slow down");
      }
      const apiKey = config.openai.apiKey;
      if (!apiKey) {
        log.error("no_openai_key", { detail: "OPENAI_API_KEY is not set and no key could be resolved" });
        return refuse(
          c,
          protocol,
          CloseCode.internalError,
          "Relay misconfigured: no OpenAI key",
          relayErrorEvent("relay_misconfigured", "The relay has no OpenAI API key configured."),
        );
      }
      const query = c.req.query();
      const sessionId = crypto.randomUUID();
      const admission: Admission = options.persistence
        ? await options.persistence.admit(sessionId, verdict.userId, query.agent_id, query.conversation_id)
        : query.agent_id !== undefined || query.conversation_id !== undefined
        ? {
          ok: false,
          code: FORBIDDEN_CLOSE_CODE,
          reason: "This relay keeps no agents or conversations (no storage)",
        }
        : {
          ok: true,
          agent: null,
          conversationId: crypto.randomUUID(),
          conversationCreated: true,
          quota: { seconds: null, usd: null },
          history: [],
        };
      if (!admission.ok) {
        log.warn("connect_refused", {
          user: verdict.userId,
          code: admission.code,
          reason: admission.reason,
          client: address,
        });
        metrics.connectionsRefused.inc({
          reason: admission.code === FORBIDDEN_CLOSE_CODE ? "forbidden" : "storage",
        });
        return refuse(c, protocol, admission.code, admission.reason);
      }
      const unknownVoice = query.voice !== undefined && !isRealtimeVoice(query.voice)
        ? query.voice
        : undefined;
      const model = chooseModel(config, admission.agent?.model ?? query.model);
      const settings = resolveSessionSettings(
        admission.agent,
        model,
        isRealtimeVoice(query.voice) ? query.voice : undefined,
        config.sessionDefaults,
      );
      const identity: SessionIdentity = {
        sessionId,
        userId: verdict.userId,
        carrier: credential!.carrier,
        model,
        clientAddress: address,
        agentId: admission.agent?.id ?? null,
        conversationId: admission.conversationId,
        voice: settings.voice,
      };
      const coreHooks: SessionHooks = {
        onClientOpen(session) {
          session.sendToClient(relayNotice("conversation", {
            conversation_id: identity.conversationId,
            created: admission.conversationCreated,
            resumed_turns: admission.history.length,
            // Without storage the id cannot be used to resume: reconnect without it.
            resumable: options.persistence !== undefined,
            session_id: identity.sessionId,
            agent_id: identity.agentId,
          }));
          if (unknownVoice !== undefined) {
            session.sendToClient(relayErrorEvent(
              "unknown_voice",
              `Unknown voice '${unknownVoice}'; using '${settings.voice}'.`,
              { type: "invalid_request_error", param: "voice" },
            ));
          }
        },
        onUpstreamOpen(session) {
          session.sendToUpstream(sessionUpdateEvent(settings, relayEventId()));
          for (const item of historyItemEvents(admission.history, "relay_resume")) {
            session.sendToUpstream(item);
          }
        },
      };
      const session = new RelaySession(
        identity,
        upstreamDialRequest(config, identity.model, apiKey, adapter.upstreamAuth),
        { config, adapter, log, metrics },
        combineHooks(
          coreHooks,
          options.persistence?.hooks({
            ...identity,
            conversationCreated: admission.conversationCreated,
            quota: admission.quota,
            runtime: adapter.runtime,
            instanceId: config.instanceId,
          }),
          createClientGuard({
            limits: {
              maxMessageBytes: config.guard.maxMessageBytes,
              maxEventsPerSecond: config.guard.maxEventsPerSecond,
              maxAudioRate: config.guard.maxAudioRate,
              maxSessionSeconds,
              sessionWarningSeconds: config.guard.sessionWarningSeconds,
              endingReason: onEdge ? "edge_wall_clock" : "max_session_seconds",
            },
            clientOverrides: admission.agent?.clientOverrides ?? {},
            log,
            now: adapter.now,
            countRefusal: (reason) => refusedEvents.inc({ reason }),
          }),
          options.sessionHooks?.(identity),
        ),
      );
      log.info("session_start", {
        session: identity.sessionId,
        user: identity.userId,
        carrier: identity.carrier,
        model: identity.model,
        requestedModel: query.model ?? null,
        agent: identity.agentId,
        conversation: identity.conversationId,
        voice: identity.voice,
        client: address,
      });
      registry.adopt(session);
      upgraded = true;
      const response = await adapter.upgradeWebSocket(c, protocol, session.clientHandlers);
      session.start();
      adapter.keepAlive(session.finished);
      return response;
    } finally {
      if (!upgraded) registry.release();
    }
  };

  app.get("/health", (c) => {
    const full = registry.active >= config.maxConnections;
    const status = registry.draining ? "draining" : full ? "full" : "ok";
    return c.json({
      status,
      activeConnections: registry.active,
      maxConnections: config.maxConnections,
      uptime: Math.round((adapter.now() - startedAt) / 1000),
      timestamp: new Date(adapter.now()).toISOString(),
      version: RELAY_VERSION,
      runtime: adapter.runtime,
      instance: config.instanceId,
    }, status === "ok" ? 200 : 503);
  });
  app.get(
    "/metrics",
    (c) =>
      c.body(metrics.registry.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
  options.beforeRoutes?.(app);
  for (const path of ["/", "/v1", "/v1/realtime"]) app.get(path, handleWebSocket);
  if (options.persistence) {
    const queue = options.persistence.queue;
    const stat = (name: keyof ReturnType<typeof queue.stats>) => () => queue.stats()[name];
    metrics.registry.add(
      new Gauge("relay_storage_pending_writes", "Writes queued or running.", stat("pending")),
    );
    metrics.registry.add(
      new ObservedCounter("relay_storage_writes_total", "Writes that succeeded.", stat("completed")),
    );
    metrics.registry.add(
      new ObservedCounter("relay_storage_retries_total", "Write retries scheduled.", stat("retries")),
    );
    metrics.registry.add(
      new ObservedCounter(
        "relay_storage_failures_total",
        "Writes given up after a permanent error.",
        stat("failures"),
      ),
    );
    metrics.registry.add(
      new ObservedCounter(
        "relay_storage_dropped_writes_total",
        "Writes refused: queue full.",
        stat("dropped"),
      ),
    );
  }
  registry.startKeepalive(config.limits.keepaliveIntervalMs);
  return { app, registry, metrics };
}
