/**
 * Where a relay session meets the database: the checks at connect (agent, conversation), the
 * `voice_sessions` row, and transcripts and usage written through the {@link WriteQueue} so that
 * storage never sits on the audio path and a database outage loses nothing the queue can hold.
 *
 * @module
 */
import type { RuntimeAdapter } from "../adapter.ts";
import type { Logger } from "../observability/log.ts";
import { relayNotice } from "../protocol/relay_events.ts";
import type { RelaySession, SessionEnd, SessionHooks } from "../relay/session.ts";
import { StorageError } from "./errors.ts";
import type { AgentRecord, ConversationStore, RecentMessage } from "./store.ts";
import { selectHistory } from "../relay/resume.ts";
import { TranscriptRecorder, type TranscriptWrite, writeTranscript } from "./transcript.ts";
import { costUsd, type RealtimePrices } from "./usage.ts";
import { isUuid } from "./uuid.ts";
import { WriteQueue } from "./write_queue.ts";
import type { RelayConfig } from "../config.ts";

/** What is left of a user's daily quota when a session starts; null fields mean no limit. */
export interface QuotaLeft {
  seconds: number | null;
  usd: number | null;
}

/** The outcome of the connect-time checks. */
export type Admission =
  | {
    ok: true;
    agent: AgentRecord | null;
    conversationId: string;
    conversationCreated: boolean;
    quota: QuotaLeft;
    /** Earlier turns to seed a resumed conversation with, oldest first. */
    history: RecentMessage[];
  }
  | { ok: false; code: number; reason: string };

type Refusal = Extract<Admission, { ok: false }>;

/** Per-user limits the database enforces across instances. */
export interface UserLimitSettings {
  maxSessionsPerUser: number;
  leaseSeconds: number;
  /** Defaults when the user has no row in `relay_user_limits`; 0 means no limit. */
  dailySeconds: number;
  dailyUsd: number;
  instanceId: string;
  /** Resume: tokens of earlier turns to seed, and how many messages to read at most. */
  resumeTokenBudget: number;
  resumeMaxMessages: number;
}

/** What a session's persistence needs to know about it. */
export interface PersistedSession {
  sessionId: string;
  userId: string;
  agentId: string | null;
  conversationId: string;
  conversationCreated: boolean;
  model: string;
  voice: string | null;
  runtime: string;
  instanceId: string;
  /** What the user's daily quota leaves for this session. */
  quota: QuotaLeft;
}

/** Options for {@link SessionPersistence}. */
export interface SessionPersistenceOptions {
  store: ConversationStore;
  queue: WriteQueue;
  log: Logger;
  adapter: RuntimeAdapter;
  prices: RealtimePrices;
  /** How long an edge invocation is kept alive after a session to flush its writes. */
  flushAfterSessionMs: number;
  limits: UserLimitSettings;
}

/** The close code for "you may not use that agent or conversation". */
export const FORBIDDEN_CLOSE_CODE = 4003;
/** The close code for a per-user limit (concurrent sessions, daily quota). */
export const LIMIT_CLOSE_CODE = 4029;

/** Midnight UTC of the day `now` falls in: daily quotas reset then. */
function startOfUtcDay(now: number): string {
  const day = new Date(now);
  day.setUTCHours(0, 0, 0, 0);
  return day.toISOString();
}

/** Connect-time checks and per-session recording against one store. */
export class SessionPersistence {
  constructor(private readonly options: SessionPersistenceOptions) {}

  /** The write queue's counters, for `/metrics`. */
  get queue(): WriteQueue {
    return this.options.queue;
  }

  /**
   * Checks `agent_id` and `conversation_id` for `userId`, then the user's daily quota, then takes a
   * concurrent-session lease for `sessionId`. A conversation that does not exist and one that belongs
   * to someone else get the same answer, so ids cannot be probed.
   */
  async admit(
    sessionId: string,
    userId: string,
    agentId: string | undefined,
    conversationId: string | undefined,
  ): Promise<Admission> {
    const { store, limits, log } = this.options;
    try {
      let agent: AgentRecord | null = null;
      if (agentId !== undefined) {
        agent = isUuid(agentId) ? await store.findAgentForUser(agentId, userId) : null;
        if (!agent) {
          return {
            ok: false,
            code: FORBIDDEN_CLOSE_CODE,
            reason: "Agent not found or not available to this user",
          };
        }
      }
      if (conversationId !== undefined) {
        const owner = isUuid(conversationId) ? await store.conversationOwner(conversationId) : null;
        if (owner !== userId) {
          return { ok: false, code: FORBIDDEN_CLOSE_CODE, reason: "Conversation not found for this user" };
        }
      }
      const usage = await store.usageSince(userId, startOfUtcDay(this.options.adapter.now()));
      const dailySeconds = usage.limits.dailySeconds ?? (limits.dailySeconds || null);
      const dailyUsd = usage.limits.dailyUsd ?? (limits.dailyUsd || null);
      const quota: QuotaLeft = {
        seconds: dailySeconds === null ? null : dailySeconds - usage.seconds,
        usd: dailyUsd === null ? null : dailyUsd - usage.costUsd,
      };
      if ((quota.seconds !== null && quota.seconds <= 0) || (quota.usd !== null && quota.usd <= 0)) {
        log.warn("quota_spent", {
          user: userId,
          seconds: usage.seconds,
          costUsd: usage.costUsd,
          limit: `daily seconds ${dailySeconds ?? "none"}, daily USD ${dailyUsd ?? "none"}`,
        });
        return { ok: false, code: LIMIT_CLOSE_CODE, reason: "Daily usage quota spent" };
      }
      const lease = await store.acquireSessionLease({
        sessionId,
        userId,
        instanceId: limits.instanceId,
        maxSessions: limits.maxSessionsPerUser,
        ttlSeconds: limits.leaseSeconds,
      });
      if (!lease.acquired) {
        log.warn("too_many_sessions", {
          user: userId,
          active: lease.active,
          limit: `MAX_SESSIONS_PER_USER=${limits.maxSessionsPerUser}`,
        });
        return {
          ok: false,
          code: LIMIT_CLOSE_CODE,
          reason: `Too many concurrent sessions (${limits.maxSessionsPerUser} allowed)`,
        };
      }
      if (conversationId === undefined) {
        return {
          ok: true,
          agent,
          conversationId: crypto.randomUUID(),
          conversationCreated: true,
          quota,
          history: [],
        };
      }
      const history = limits.resumeTokenBudget > 0
        ? selectHistory(
          await store.recentMessages(conversationId, limits.resumeMaxMessages),
          limits.resumeTokenBudget,
        )
        : [];
      return { ok: true, agent, conversationId, conversationCreated: false, quota, history };
    } catch (error) {
      return this.storageRefusal(userId, error);
    }
  }

  private storageRefusal(userId: string, error: unknown): Refusal {
    const detail = error instanceof Error ? error.message : String(error);
    this.options.log.error("storage_unavailable_at_connect", { user: userId, detail });
    const transient = !(error instanceof StorageError) || error.transient;
    return transient
      ? { ok: false, code: 1013, reason: "Database unavailable; try again shortly" }
      : { ok: false, code: 1011, reason: "Database error at connect" };
  }

  /** The hooks that record one session; the conversation row (when new) and session row are queued first. */
  hooks(info: PersistedSession): SessionHooks {
    const { store, queue, adapter } = this.options;
    const key = info.conversationId;
    if (info.conversationCreated) {
      queue.push(key, () =>
        store.createConversation({
          id: info.conversationId,
          userId: info.userId,
          agentId: info.agentId,
          title: `Voice conversation ${new Date(adapter.now()).toISOString().slice(0, 16).replace("T", " ")}`,
        }), "create_conversation");
    }
    queue.push(key, () =>
      store.recordSessionStart({
        sessionId: info.sessionId,
        userId: info.userId,
        agentId: info.agentId,
        conversationId: info.conversationId,
        runtime: info.runtime,
        instanceId: info.instanceId,
        model: info.model,
        voice: info.voice,
        startedAt: new Date(adapter.now()).toISOString(),
      }), "session_start");
    const recorder = new TranscriptRecorder({
      conversationId: info.conversationId,
      userId: info.userId,
      model: info.model,
      voice: info.voice,
      now: adapter.now,
      sessionId: info.sessionId,
    });
    const enqueue = (writes: TranscriptWrite[]) => {
      for (const write of writes) queue.push(key, () => writeTranscript(store, write), write.kind);
    };
    const { limits, log } = this.options;
    const costSoFar = () => costUsd(recorder.usage(), this.options.prices);
    const timers: ReturnType<typeof setTimeout>[] = [];
    let exhausted = false;
    const endForQuota = (session: RelaySession, what: string) => {
      if (exhausted) return;
      exhausted = true;
      log.info("quota_exhausted", { session: info.sessionId, user: info.userId, what });
      session.sendToClient(relayNotice("quota_exhausted", { reason: what, retry: false }));
      session.close(LIMIT_CLOSE_CODE, "Daily usage quota spent");
    };
    return {
      onClientOpen: (session: RelaySession) => {
        if (info.quota.seconds !== null) {
          timers.push(setTimeout(() => endForQuota(session, "daily_seconds"), info.quota.seconds * 1000));
        }
        // Renewal keeps the slot while the session lives; a crashed instance stops renewing and its
        // leases expire. A renewal that fails (database away) is simply tried again next round.
        timers.push(setInterval(() => {
          store.renewSessionLease(info.sessionId, limits.leaseSeconds, { costUsd: costSoFar() })
            .then((held) => {
              if (held) return;
              return store.acquireSessionLease({
                sessionId: info.sessionId,
                userId: info.userId,
                instanceId: limits.instanceId,
                maxSessions: limits.maxSessionsPerUser,
                ttlSeconds: limits.leaseSeconds,
              }).then((lease) => {
                if (lease.acquired) return;
                log.warn("lease_lost", {
                  session: info.sessionId,
                  user: info.userId,
                  limit: `MAX_SESSIONS_PER_USER=${limits.maxSessionsPerUser}`,
                });
                session.close(
                  LIMIT_CLOSE_CODE,
                  `Too many concurrent sessions (${limits.maxSessionsPerUser} allowed)`,
                );
              });
            })
            .catch((error) =>
              log.warn("lease_renew_failed", { session: info.sessionId, detail: String(error) })
            );
        }, Math.max(1000, (limits.leaseSeconds * 1000) / 3)));
      },
      onUpstreamEvent: (session: RelaySession, type: string | undefined, text: string) => {
        if (!TranscriptRecorder.wants(type)) return;
        let event: { type: string } & Record<string, unknown>;
        try {
          event = JSON.parse(text);
        } catch {
          return;
        }
        enqueue(recorder.observe(event));
        if (type === "response.done" && info.quota.usd !== null && costSoFar() >= info.quota.usd) {
          endForQuota(session, "daily_usd");
        }
      },
      onEnd: (_session: RelaySession, end: SessionEnd) => {
        for (const timer of timers) clearTimeout(timer);
        enqueue(recorder.finish());
        const usage = recorder.usage();
        queue.push(key, () =>
          store.recordSessionEnd({
            sessionId: info.sessionId,
            endedAt: new Date(adapter.now()).toISOString(),
            closeCode: end.clientCode,
            closeReason: end.clientReason,
            usage,
            costUsd: costUsd(usage, this.options.prices),
          }), "session_end");
        // Released at once (not behind the transcript writes) so that a client reconnecting right away
        // finds its slot free; through the queue only if the database is away.
        store.releaseSessionLease(info.sessionId).catch(() =>
          queue.push(key, () => store.releaseSessionLease(info.sessionId), "release_lease")
        );
        adapter.keepAlive(queue.flush(this.options.flushAfterSessionMs));
      },
    };
  }
}

/** Log fields from a queue callback's info object (strings and numbers only; errors by message). */
function logFields(info: object): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(info)) {
    out[key] = typeof value === "number" ? value : value instanceof Error ? value.message : String(value);
  }
  return out;
}

/** Builds the write queue and the persistence for `store` from the relay's configuration. */
export function createSessionPersistence(
  config: RelayConfig,
  store: ConversationStore,
  log: Logger,
  adapter: RuntimeAdapter,
): SessionPersistence {
  const queue = new WriteQueue({
    maxPending: config.storage.maxPendingWrites,
    onDrop: (info) =>
      log.error("storage_queue_full", {
        detail: "the database is not keeping up or is down; new transcript writes are being refused",
        limit: `STORAGE_MAX_PENDING_WRITES=${info.maxPending}`,
        dropped: info.dropped,
      }),
    onRetry: (info) => log.warn("storage_retry", logFields(info)),
    onFailure: (info) => log.error("storage_write_failed", logFields(info)),
  });
  return new SessionPersistence({
    store,
    queue,
    log,
    adapter,
    prices: config.prices,
    flushAfterSessionMs: 30_000,
    limits: {
      maxSessionsPerUser: config.guard.maxSessionsPerUser,
      leaseSeconds: config.guard.sessionLeaseSeconds,
      dailySeconds: config.guard.dailySecondsPerUser,
      dailyUsd: config.guard.dailyUsdPerUser,
      instanceId: config.instanceId,
      resumeTokenBudget: config.guard.resumeTokenBudget,
      resumeMaxMessages: config.guard.resumeMaxMessages,
    },
  });
}
