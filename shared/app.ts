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
import { createRelayMetrics, type RelayMetrics } from "./observability/relay_metrics.ts";
import { relayErrorEvent } from "./protocol/relay_events.ts";
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
  /** Extra behaviour per session (storage, guardrails). */
  sessionHooks?: (identity: SessionIdentity) => SessionHooks;
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
  const startedAt = adapter.now();
  // strict: false so `/realtime-voice/` and `/realtime-voice` (and `/v1/realtime/`) both match.
  const app = options.basePath ? new Hono({ strict: false }).basePath(options.basePath) : new Hono({ strict: false });

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
    if (registry.draining || !registry.reserve()) {
      const reason = registry.draining ? "draining" : "capacity";
      metrics.connectionsRefused.inc({ reason });
      log.warn("connection_refused", { reason, active: registry.active, limit: `MAX_CONNECTIONS=${config.maxConnections}` });
      return refuse(
        c,
        protocol,
        CloseCode.tryAgainLater,
        registry.draining ? "Relay is restarting; reconnect" : `Relay at capacity (${config.maxConnections} sessions)`,
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
        log.warn("auth_failed", { reason: verdict.reason, detail: verdict.detail, carrier: credential?.carrier ?? null, client: address });
        // Supabase Auth being unreachable says nothing about the token: let the client retry.
        if (verdict.reason === "remote_unavailable") {
          return refuse(c, protocol, CloseCode.tryAgainLater, "Token check unavailable; try again shortly");
        }
        return refuse(c, protocol, CloseCode.unauthorized, "Unauthorized");
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
      const identity: SessionIdentity = {
        sessionId: crypto.randomUUID(),
        userId: verdict.userId,
        carrier: credential!.carrier,
        model: chooseModel(config, query.model),
        clientAddress: address,
      };
      const session = new RelaySession(
        identity,
        upstreamDialRequest(config, identity.model, apiKey, adapter.upstreamAuth),
        { config, adapter, log, metrics },
        options.sessionHooks?.(identity),
      );
      log.info("session_start", {
        session: identity.sessionId,
        user: identity.userId,
        carrier: identity.carrier,
        model: identity.model,
        requestedModel: query.model ?? null,
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
  app.get("/metrics", (c) =>
    c.body(metrics.registry.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }));
  for (const path of ["/", "/v1", "/v1/realtime"]) app.get(path, handleWebSocket);
  registry.startKeepalive(config.limits.keepaliveIntervalMs);
  return { app, registry, metrics };
}
