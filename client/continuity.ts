/**
 * How the client carries a conversation across sessions (README, "Continuity"): what to do when a
 * socket closes, given what the relay announced before closing it. Pure, so the policy is tested on its
 * own; `VoiceClient` applies it.
 *
 * - The relay announced the end (`relay.session_ending` with `retry: true`, or `relay.draining`): the
 *   close that follows (1000 or 1012) means "reconnect now", with no backoff on the first attempt
 *   (`relay.draining`'s `retry_after_ms` is honoured). After `edge_wall_clock` the client leaves the
 *   edge endpoint for the VPS one when the app configured both.
 * - An abnormal close without notice: backoff ({@link reconnectDelayMs}).
 * - 4001/4003/4029 and normal ends: stop. The one exception: a 4003 that answers the conversation id
 *   the client added by itself, before any session started on that socket (a relay without storage, or
 *   one that cannot see the first relay's database, refuses ids it does not know): the client forgets
 *   the id and tries once more at once, starting a new conversation, rather than ending the call.
 *
 * @module
 */
import type { VoiceEndpoint } from "./endpoint.ts";
import { FATAL_CLOSE_CODES, reconnectDelayMs, type ReconnectPolicy, shouldReconnect } from "./reconnect.ts";

/** The relay said this session will end and the client should reconnect (kept until the socket closes). */
export type PlannedEnd =
  | {
    notice: "session_ending";
    /** `edge_wall_clock` (the edge platform's time limit) or `max_session_seconds`. */
    reason: string;
  }
  | {
    notice: "draining";
    /** The relay's hint, in milliseconds, before reconnecting (elsewhere, through the load balancer). */
    retryAfterMs: number;
  };

/** Forbidden: the relay's answer to a conversation id it does not know for this user. */
const FORBIDDEN = 4003;

/** The planned end a server event announces, or undefined when it announces none. */
export function plannedEndOf(event: { type: string; [field: string]: unknown }): PlannedEnd | undefined {
  if (event.type === "relay.session_ending" && event.retry === true) {
    return { notice: "session_ending", reason: typeof event.reason === "string" ? event.reason : "" };
  }
  if (event.type === "relay.draining") {
    const hint = Number(event.retry_after_ms);
    return { notice: "draining", retryAfterMs: Number.isFinite(hint) && hint > 0 ? hint : 0 };
  }
  return undefined;
}

/** What the client knows when a socket has closed. */
export interface ClosedSocket {
  code: number;
  /** What the relay announced on this socket before closing it. */
  plannedEnd?: PlannedEnd;
  /** Reconnect attempts already made since the last session that started (0 right after one). */
  attemptsSoFar: number;
  /** The socket carried a `conversation_id` the client added from memory (the app did not ask for it). */
  sentRememberedConversation: boolean;
  /** A session started on this socket (`session.created` arrived). */
  sessionStarted: boolean;
}

/** What to do after a socket closed. */
export type NextStep =
  | {
    action: "reconnect";
    delayMs: number;
    /** The relay asked for it (planned end or drain), so it is not an error. */
    planned: boolean;
    /** Move off the edge endpoint (the edge platform's time limit cut the session). */
    leaveEdge: boolean;
    /** Reconnect without the remembered conversation id (the relay refused it). */
    forgetConversation: boolean;
  }
  | { action: "stop" };

/**
 * The step after `closed` under `policy` (`undefined`: never reconnect). `random` (0..1) is the backoff's
 * jitter.
 */
export function nextStepAfterClose(
  closed: ClosedSocket,
  policy: ReconnectPolicy | undefined,
  random: () => number = Math.random,
): NextStep {
  const attempt = closed.attemptsSoFar + 1;
  if (!policy || attempt > policy.maxAttempts) return { action: "stop" };
  const reconnect = (
    delayMs: number,
    planned: boolean,
    extra: { leaveEdge?: boolean; forgetConversation?: boolean } = {},
  ): NextStep => ({
    action: "reconnect",
    delayMs,
    planned,
    leaveEdge: false,
    forgetConversation: false,
    ...extra,
  });
  if (closed.code === FORBIDDEN && closed.sentRememberedConversation && !closed.sessionStarted) {
    return reconnect(0, false, { forgetConversation: true });
  }
  if (FATAL_CLOSE_CODES.has(closed.code)) return { action: "stop" };
  const planned = closed.plannedEnd;
  if (planned) {
    // The relay closes at a pause between turns (1000 after session_ending, 1012 after draining); a
    // platform that cuts first shows 1006. Any of them ends the announced session: carry on at once.
    if (planned.notice === "draining") {
      return reconnect(Math.min(planned.retryAfterMs, policy.maxDelayMs), true);
    }
    return reconnect(0, true, { leaveEdge: planned.reason === "edge_wall_clock" });
  }
  if (shouldReconnect(closed.code)) return reconnect(reconnectDelayMs(attempt, policy, random), false);
  return { action: "stop" };
}

/**
 * The URL to connect to: `chosen` itself, or, once the client has left the edge (`leaveEdge`), the
 * `vps` candidate of an `edge` endpoint when the app configured one (`VITE_VOICE_WEBSOCKET_URL`). The
 * same-origin candidate is never a destination: it exists whenever the page is served over http(s),
 * whether or not its host runs a relay. Without a `vps` candidate the client stays on the edge (a new
 * invocation, a new wall clock; the conversation carries on there).
 */
export function endpointUrl(chosen: string | VoiceEndpoint, leaveEdge: boolean): string {
  if (typeof chosen === "string") return chosen;
  if (leaveEdge && chosen.kind === "edge") {
    return chosen.candidates.find((candidate) => candidate.kind === "vps")?.url ?? chosen.url;
  }
  return chosen.url;
}
