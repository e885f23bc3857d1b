/**
 * The client event allowlist and per-session limits, as session hooks: every client frame is checked
 * before it is forwarded; a bad one is answered with an `error` event in the API's shape naming what
 * was wrong, and the session stays up. Session length is capped with a warning before the end.
 *
 * @module
 */
import type { Logger } from "../observability/log.ts";
import { relayErrorEvent, relayNotice } from "../protocol/relay_events.ts";
import type { RelaySession, SessionHooks } from "../relay/session.ts";
import {
  base64DecodedBytes,
  clientEventSchemas,
  fastAppendAudioBytes,
  isForwardedType,
} from "./client_events.ts";
import { filterSessionUpdate } from "./session_update_filter.ts";

/** Per-session limits, from config. */
export interface ClientLimits {
  /** Largest client frame accepted, in bytes (UTF-16 units for text). */
  maxMessageBytes: number;
  /** Client events per second (bursts of two seconds' worth pass). */
  maxEventsPerSecond: number;
  /** Audio seconds per wall-clock second the client may append (burst of ten seconds). */
  maxAudioRate: number;
  /** Session length cap in seconds; 0 disables. */
  maxSessionSeconds: number;
  /** Seconds before the cap at which the client is warned (and the session ends at the next pause). */
  sessionWarningSeconds: number;
  /** The `reason` of the warning: `edge_wall_clock` on the edge (move to the VPS endpoint), else `max_session_seconds`. */
  endingReason: "edge_wall_clock" | "max_session_seconds";
}

/** Counts of refused frames by reason, for `/metrics`. */
export type RefusalCounter = (reason: string) => void;

/** What {@link createClientGuard} needs. */
export interface ClientGuardOptions {
  limits: ClientLimits;
  /** The agent's `client_overrides` (empty without an agent). */
  clientOverrides: Record<string, unknown>;
  log: Logger;
  now: () => number;
  countRefusal: RefusalCounter;
}

const PCM_BYTES_PER_SECOND = 24_000 * 2;

/** A token bucket: `rate` tokens a second, holding at most `capacity`. */
class Bucket {
  private tokens: number;
  private last: number;
  constructor(private readonly rate: number, private readonly capacity: number, now: number) {
    this.tokens = capacity;
    this.last = now;
  }
  take(amount: number, now: number): boolean {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }
}

function eventIdOf(value: unknown): string | null {
  const id = (value as { event_id?: unknown } | null)?.event_id;
  return typeof id === "string" ? id.slice(0, 256) : null;
}

/** Builds the hooks guarding one session. */
export function createClientGuard(options: ClientGuardOptions): SessionHooks {
  const { limits, now } = options;
  const events = new Bucket(limits.maxEventsPerSecond, limits.maxEventsPerSecond * 2, now());
  const audioBudgetBytes = limits.maxAudioRate * PCM_BYTES_PER_SECOND;
  const audio = new Bucket(audioBudgetBytes, audioBudgetBytes * 10, now());
  const timers: ReturnType<typeof setTimeout>[] = [];

  const refuse = (
    session: RelaySession,
    reason: string,
    message: string,
    param: string | null,
    eventId: string | null,
  ) => {
    options.countRefusal(reason);
    session.sendToClient(relayErrorEvent(reason, message, { type: "invalid_request_error", param, eventId }));
    return false as const;
  };

  const takeAudio = (session: RelaySession, bytes: number, eventId: string | null) => {
    if (audio.take(bytes, now())) return true;
    return refuse(
      session,
      "audio_rate_limited",
      `Audio is arriving faster than ${limits.maxAudioRate}x real time; this chunk was dropped.`,
      "audio",
      eventId,
    );
  };

  return {
    onClientOpen(session) {
      if (limits.maxSessionSeconds <= 0) return;
      const end = (why: string) => {
        options.log.info("session_time_limit", {
          session: session.identity.sessionId,
          user: session.identity.userId,
          limit: `MAX_SESSION_SECONDS=${limits.maxSessionSeconds}`,
          when: why,
        });
        session.close(1000, `Session time limit reached (${limits.maxSessionSeconds} s)`);
      };
      const warnAt = Math.max(0, limits.maxSessionSeconds - limits.sessionWarningSeconds);
      timers.push(setTimeout(() => {
        session.sendToClient(relayNotice("session_ending", {
          reason: limits.endingReason,
          seconds_left: Math.min(limits.sessionWarningSeconds, limits.maxSessionSeconds),
          retry: true,
        }));
        // Ends at the next pause between turns within the warning window, at the latest at the cap.
        session.atNextPause(() => end("between_turns"));
      }, warnAt * 1000));
      timers.push(setTimeout(() => end("at_cap"), limits.maxSessionSeconds * 1000));
    },
    onEnd() {
      for (const timer of timers) clearTimeout(timer);
    },
    onClientBinary(session) {
      return refuse(session, "binary_not_supported", "The relay accepts JSON text frames only.", null, null);
    },
    onClientText(session, type, text) {
      if (text.length > limits.maxMessageBytes) {
        return refuse(
          session,
          "message_too_large",
          `The message is ${text.length} bytes; the relay accepts at most ${limits.maxMessageBytes}.`,
          null,
          null,
        );
      }
      if (!events.take(1, now())) {
        return refuse(
          session,
          "rate_limited",
          `More than ${limits.maxEventsPerSecond} events per second; this event was dropped.`,
          null,
          null,
        );
      }
      if (type === "input_audio_buffer.append") {
        const bytes = fastAppendAudioBytes(text);
        if (bytes >= 0) return takeAudio(session, bytes, null);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return refuse(session, "invalid_json", "The frame is not valid JSON.", null, null);
      }
      const eventId = eventIdOf(parsed);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return refuse(session, "invalid_event", "An event must be a JSON object.", null, null);
      }
      const eventType = (parsed as { type?: unknown }).type;
      if (typeof eventType !== "string") {
        return refuse(session, "invalid_event", "The 'type' field is missing.", "type", eventId);
      }
      if (!isForwardedType(eventType)) {
        return refuse(
          session,
          "unknown_event",
          `The relay does not forward '${eventType.slice(0, 80)}' events.`,
          "type",
          eventId,
        );
      }
      const checked = clientEventSchemas[eventType].safeParse(parsed);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        const param = issue.path.join(".") || null;
        return refuse(
          session,
          "invalid_event",
          `Invalid ${eventType}: ${param ?? "event"} ${issue.message}.`,
          param,
          eventId,
        );
      }
      if (eventType === "input_audio_buffer.append") {
        return takeAudio(session, base64DecodedBytes((checked.data as { audio: string }).audio), eventId);
      }
      if (eventType === "session.update") {
        const update = checked.data as { session: Record<string, unknown>; event_id?: string };
        const filtered = filterSessionUpdate(update.session, options.clientOverrides);
        if (filtered.problems.length > 0) {
          const first = filtered.problems[0];
          refuse(
            session,
            first.code,
            filtered.problems.map((p) => p.message).join(" "),
            filtered.problems.map((p) => p.param).join(", "),
            eventId,
          );
        }
        if (!filtered.session) return false;
        return JSON.stringify({
          type: "session.update",
          ...(update.event_id ? { event_id: update.event_id } : {}),
          session: filtered.session,
        });
      }
      return true;
    },
  };
}
