/**
 * The relay's memory, as one interface: agents it reads, conversations and messages it writes, one
 * row per voice session with usage and cost, and secrets from Vault.
 *
 * Three adapters implement it with the same SQL semantics (the schema lives in `supabase/migrations/`):
 * supabase-js with the service-role key (`shared/storage/supabase_store.ts`, the edge function's only
 * one), direct PostgreSQL (`server/storage/postgres_store.ts`) and embedded PGlite
 * (`server/storage/pglite_store.ts`).
 *
 * Every write is idempotent, so a retried write (see `write_queue.ts`) never duplicates a row. Methods
 * reject with a `StorageError` (`errors.ts`) whose `transient` flag says whether a retry can help.
 * Ids that are not UUIDs are answered like unknown ids (null), never with a database error.
 *
 * @module
 */

/** An agent as the relay reads it: the server-owned session configuration and who may use it. */
export interface AgentRecord {
  id: string;
  ownerId: string;
  name: string;
  instructions: string;
  voice: string | null;
  model: string | null;
  /** The Realtime `turn_detection` object, as stored. */
  turnDetection: Record<string, unknown> | null;
  transcriptionModel: string | null;
  /** Realtime tool definitions, as stored. */
  tools: unknown[];
  isPublic: boolean;
  /** What the client may still change (the guardrails decide how this is read). */
  clientOverrides: Record<string, unknown>;
}

/** Token counts of one or more `response.done` events; cached counts are part of the input counts. */
export interface TokenUsage {
  inputTextTokens: number;
  inputAudioTokens: number;
  inputCachedTextTokens: number;
  inputCachedAudioTokens: number;
  outputTextTokens: number;
  outputAudioTokens: number;
  totalTokens: number;
}

/** One transcript line, ready for `chat_messages_v2`. */
export interface StoredMessage {
  conversationId: string;
  userId: string;
  role: "user" | "assistant";
  content: string;
  /** The Realtime item id; the idempotency key together with `conversationId`. */
  itemId: string;
  /** ISO time the item entered the conversation (not the write time), so `created_at` orders the turns. */
  createdAt: string;
  /** Written as is: `input_method`, `model`, `voice`, `item_id`, `response_id`, `interrupted`... */
  metadata: Record<string, unknown>;
}

/** The `voice_sessions` row written when a relay session starts. */
export interface SessionStartRow {
  /** The relay's session id (a UUID); the row's primary key. */
  sessionId: string;
  userId: string;
  agentId: string | null;
  conversationId: string;
  runtime: string;
  instanceId: string;
  model: string;
  voice: string | null;
  /** ISO time. */
  startedAt: string;
}

/** What is known when a relay session ends; completes its `voice_sessions` row. */
export interface SessionEndRow {
  sessionId: string;
  /** ISO time. */
  endedAt: string;
  closeCode: number;
  closeReason: string;
  usage: TokenUsage;
  costUsd: number;
}

/** Input of {@link ConversationStore.createConversation}. */
export interface NewConversation {
  /**
   * The id to create it under. Give one (e.g. `crypto.randomUUID()`) to make the call idempotent, and
   * so queueable: the relay can tell the client the id at once and write the row in the background.
   */
  id?: string;
  userId: string;
  agentId: string | null;
  title: string;
}

/** A message as read back to seed a resumed session. */
export interface RecentMessage {
  role: string;
  content: string;
  /** ISO time. */
  createdAt: string;
}

/** Input of {@link ConversationStore.acquireSessionLease}. */
export interface SessionLeaseRequest {
  /** The relay's session id (a UUID): the same id as the session's `voice_sessions` row. */
  sessionId: string;
  userId: string;
  /** The relay instance holding the session (stored for operators). */
  instanceId: string;
  /** The user's limit of concurrent sessions (`MAX_SESSIONS_PER_USER`); an integer, at least 1. */
  maxSessions: number;
  /** Seconds (1..86400) the lease lives unless renewed, measured on the database's clock. */
  ttlSeconds: number;
}

/** Outcome of {@link ConversationStore.acquireSessionLease}. */
export interface SessionLeaseResult {
  /** True when the session holds a lease now; false when the user is at the limit. */
  acquired: boolean;
  /** The user's live leases across every instance afterwards (this one included when acquired). */
  active: number;
}

/** A user's own daily limits (`relay_user_limits`); null means the relay's configured default applies. */
export interface UserLimits {
  dailySeconds: number | null;
  dailyUsd: number | null;
}

/** Outcome of {@link ConversationStore.usageSince}. */
export interface UserUsage {
  /** Voice seconds since the given time, over ended and still-open sessions. */
  seconds: number;
  /** Realtime cost in USD since the given time (open sessions: what they last reported). */
  costUsd: number;
  limits: UserLimits;
}

/** The relay's storage. Writes are idempotent; see the module doc. */
export interface ConversationStore {
  /** The agent when it exists and `userId` may use it (owner, or the agent is public); else null. */
  findAgentForUser(agentId: string, userId: string): Promise<AgentRecord | null>;
  /** The owner of a conversation, or null when there is no such conversation. */
  conversationOwner(conversationId: string): Promise<string | null>;
  /** Creates a conversation and returns its id; with `input.id`, creating it again is a no-op. */
  createConversation(input: NewConversation): Promise<string>;
  /** Inserts the session's row; a second call for the same session id changes nothing. */
  recordSessionStart(row: SessionStartRow): Promise<void>;
  /** Inserts one message; idempotent on (conversationId, itemId): a repeat inserts nothing. */
  appendMessage(message: StoredMessage): Promise<void>;
  /**
   * Replaces the metadata of a stored message (used to mark an assistant turn interrupted after it was
   * written). Idempotent; a message that is not stored (yet) is left alone.
   */
  updateMessageMetadata(
    conversationId: string,
    itemId: string,
    metadata: Record<string, unknown>,
  ): Promise<void>;
  /** Completes the session's row (end time, close code and reason, usage, cost); idempotent. */
  recordSessionEnd(row: SessionEndRow): Promise<void>;
  /** Up to `limit` messages of a conversation, newest first; seeds a resumed session. */
  recentMessages(conversationId: string, limit: number): Promise<RecentMessage[]>;
  /**
   * Takes one of the user's `maxSessions` concurrent-session slots for `sessionId`, atomically across
   * every relay instance (`relay_acquire_session_lease`). Refused (`acquired: false`) when the user
   * already holds `maxSessions` live leases. The user's expired leases (a crashed instance's) are
   * reclaimed first, and the `voice_sessions` rows they left open are closed at the lease's expiry.
   * Calling it again for a session that holds a live lease renews it (not counted twice). Rejects with
   * a permanent StorageError for ids that are not UUIDs, bad limits, or a session id leased to
   * another user.
   */
  acquireSessionLease(input: SessionLeaseRequest): Promise<SessionLeaseResult>;
  /**
   * Extends the session's lease to now + `ttlSeconds` (database time). False when the lease is gone
   * (released, or expired and reclaimed): the session holds no slot any more and must acquire again.
   * With `progress.costUsd` (the session's cost so far), also records it on the session's open
   * `voice_sessions` row, so {@link usageSince} sees what running sessions have spent.
   */
  renewSessionLease(sessionId: string, ttlSeconds: number, progress?: { costUsd?: number }): Promise<boolean>;
  /**
   * Frees the session's lease; idempotent. Also sweeps a bounded number of expired leases of any user
   * (closing the `voice_sessions` rows they left open).
   */
  releaseSessionLease(sessionId: string): Promise<void>;
  /**
   * What the user spent since `since` (an ISO time, e.g. the start of the day) and the user's own
   * limits. Each session counts for its part after `since` (seconds; cost pro rata). Open sessions
   * count until now, but never past their lease's expiry, and at most 60 minutes when they have no
   * lease. An id that is not a UUID is an unknown user: zeros and no limits.
   */
  usageSince(userId: string, since: string): Promise<UserUsage>;
  /** A Vault secret by name (through `public.relay_get_secret`), or null when there is none. */
  readSecret(name: string): Promise<string | null>;
  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}
