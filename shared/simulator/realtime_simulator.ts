/**
 * A local stand-in for the OpenAI Realtime API (GA protocol) over WebSocket: the upstream of the
 * relay's tests, of its zero-config local mode, and of the benchmark (echo mode). It speaks the
 * published wire protocol (handshake and auth forms, beta refusal, `session.created`, server VAD turns,
 * scripted responses with transcripts and usage, barge-in, truncation, errors, `session_expired`) and
 * records every connection so tests can assert on what the relay sent.
 *
 * Web-standard only: sockets come from the {@link RuntimeAdapter} given in the options.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { RuntimeAdapter } from "../adapter.ts";
import { type SimulatedConnection, summarizeConnection } from "./connection_record.ts";
import { judgeHandshake, redactedHeaders } from "./handshake.ts";
import { randomBase62 } from "./ids.ts";
import { defaultScript, type ScriptedTurn } from "./script.ts";
import { SimulatorConnection } from "./simulator_connection.ts";

export type { ConnectionClose, RecordedClientEvent, SimulatedConnection } from "./connection_record.ts";
export type { ScriptedTurn } from "./script.ts";

/** Models accepted by default (`?model=`). */
export const defaultSimulatorModels: readonly string[] = [
  "gpt-realtime",
  "gpt-realtime-mini",
  "gpt-realtime-2025-08-28",
];

/** Options for {@link createRealtimeSimulator}. */
export interface RealtimeSimulatorOptions {
  /** Upgrades requests to sockets (the Deno, Node or edge adapter). */
  adapter: RuntimeAdapter;
  /** Keys accepted, by header or subprotocol; anything else is refused with `invalid_api_key`. */
  apiKeys: string[];
  /** Models accepted in `?model=`; default {@link defaultSimulatorModels}. */
  models?: string[];
  /** "conversation" (default): VAD turns and scripted answers. "echo": each append comes straight back. */
  mode?: "conversation" | "echo";
  /** The exchanges, cycled; default {@link defaultScript}. */
  script?: ScriptedTurn[];
  /** Session length before `session_expired` and close 1001; default 3600 (the API's 60 minutes). */
  sessionMaxSeconds?: number;
  /** Length of each assistant audio delta; default 100 ms. */
  audioChunkMs?: number;
  /** Stream assistant audio in real time (browser tests) instead of as fast as possible; default false. */
  realtimePacing?: boolean;
  /**
   * Client events kept per connection (the rest are only counted); default 5000. An append costs about
   * 300 bytes of record, so a long-lived local server may want less.
   */
  maxRecordedEvents?: number;
  /** Connection records kept (oldest closed ones go first); default 100. */
  maxRecordedConnections?: number;
}

/** A running simulator: mount {@link RealtimeSimulator.app} on any server. */
export interface RealtimeSimulator {
  /** Serves `/v1/realtime` (and `/`), `/health` and `/_simulator/connections`. */
  app: Hono;
  /** Every connection so far, refused ones included, oldest first. */
  connections: SimulatedConnection[];
  /** Calls `listener` with each new connection's record (before its socket opens); returns an unsubscribe. */
  onConnection(listener: (connection: SimulatedConnection) => void): () => void;
  /** Closes every open connection (1001) and cancels their timers; the app keeps accepting new ones. */
  closeAll(): void;
  /** Settings read by each new connection; tests change them between connections (e.g. a short session cap). */
  settings: { sessionMaxSeconds: number };
}

/** Builds a simulator. */
export function createRealtimeSimulator(options: RealtimeSimulatorOptions): RealtimeSimulator {
  const models = options.models ?? [...defaultSimulatorModels];
  const mode = options.mode ?? "conversation";
  const script = options.script?.length ? options.script : defaultScript;
  const sessionMaxSeconds = options.sessionMaxSeconds ?? 3600;
  const audioChunkMs = Math.max(10, Math.round(options.audioChunkMs ?? 100));
  const maxRecordedConnections = options.maxRecordedConnections ?? 100;
  if (!(sessionMaxSeconds > 0)) {
    throw new Error(`createRealtimeSimulator: sessionMaxSeconds must be > 0, got ${sessionMaxSeconds}`);
  }
  const connections: SimulatedConnection[] = [];
  const listeners = new Set<(connection: SimulatedConnection) => void>();
  const live = new Set<SimulatorConnection>();
  const stem = randomBase62(6);
  let counter = 0;

  const settings = {
    mode,
    script,
    sessionMaxSeconds,
    audioChunkMs,
    realtimePacing: options.realtimePacing ?? false,
    maxRecordedEvents: options.maxRecordedEvents ?? 5000,
    now: () => options.adapter.now(),
  };

  const remember = (record: SimulatedConnection) => {
    connections.push(record);
    while (connections.length > maxRecordedConnections) {
      const oldestClosed = connections.findIndex((c) => c.closed);
      connections.splice(oldestClosed >= 0 ? oldestClosed : 0, 1);
    }
  };

  const upgrade = (c: Context) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({
        error: {
          type: "invalid_request_error",
          code: "websocket_required",
          message: "The Realtime API is served over WebSocket: connect with ws:// and ?model=.",
          param: null,
        },
      }, 426);
    }
    const request = c.req.raw;
    const verdict = judgeHandshake(request, { apiKeys: options.apiKeys, models });
    const record: SimulatedConnection = {
      id: `conn_${stem}${(++counter).toString(36)}`,
      url: request.url,
      model: verdict.model,
      authForm: verdict.authForm,
      offeredProtocols: verdict.offeredProtocols,
      selectedProtocol: verdict.selectedProtocol ?? null,
      headers: redactedHeaders(request),
      refusal: verdict.refusal?.error.code ?? null,
      mode,
      sessionId: null,
      receivedEvents: [],
      droppedEvents: 0,
      receivedBinaryFrames: 0,
      inputAudioBytes: 0,
      sentEvents: 0,
      sentErrors: [],
      openedAt: options.adapter.now(),
    };
    remember(record);
    for (const listener of listeners) listener(record);
    const connection = new SimulatorConnection(record, verdict, settings, (done) => live.delete(done));
    live.add(connection);
    return options.adapter.upgradeWebSocket(c, verdict.selectedProtocol, connection.handlers);
  };

  const app = new Hono();
  app.get("/health", (c) =>
    c.json({
      ok: true,
      service: "openai-realtime-simulator",
      mode,
      openConnections: live.size,
      recordedConnections: connections.length,
    }));
  app.get("/_simulator/connections", (c) => {
    const includeEvents = c.req.query("events") === "1";
    return c.json({ connections: connections.map((record) => summarizeConnection(record, includeEvents)) });
  });
  app.get("/v1/realtime", upgrade);
  app.get("/", upgrade);

  return {
    app,
    connections,
    onConnection(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    closeAll() {
      for (const connection of [...live]) connection.close(1001, "The simulator is shutting down.");
    },
    settings,
  };
}
