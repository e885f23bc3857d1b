/**
 * The {@link ConversationStore} over SQL, shared by the PGlite and PostgreSQL adapters: every statement
 * the relay runs against its own database is in {@link SQL} below, and the two adapters differ only in
 * the {@link SqlDriver} they pass in. (The supabase-js adapter expresses the same statements as
 * PostgREST requests.)
 *
 * @module
 */
import { StorageError } from "../../shared/storage/errors.ts";
import {
  leaseFromJson,
  noUsage,
  requireCost,
  requireLeaseRequest,
  requireLeaseTtl,
  sinceIso,
  usageFromJson,
} from "../../shared/storage/limit_rows.ts";
import type {
  AgentRecord,
  ConversationStore,
  NewConversation,
  RecentMessage,
  SessionEndRow,
  SessionLeaseRequest,
  SessionLeaseResult,
  SessionStartRow,
  StoredMessage,
  UserUsage,
} from "../../shared/storage/store.ts";
import { AGENT_COLUMNS, agentFromRow, type AgentRow, toIso } from "../../shared/storage/rows.ts";
import { isUuid, requireUuid } from "../../shared/storage/uuid.ts";
import { type SqlDriver, type SqlParam, toStorageError } from "./sql_driver.ts";

/** The statements, by store method. Writes are idempotent (see each). */
export const SQL = {
  findAgentForUser: `
    select ${AGENT_COLUMNS}
      from public.agents
     where id = $1::uuid and (owner_id = $2::uuid or is_public)`,
  conversationOwner: `select user_id from public.conversations where id = $1::uuid`,
  // Bootstrapped databases only: the relay's users come from JWTs, not from this database.
  ensureUser: `insert into auth.users (id) values ($1::uuid) on conflict (id) do nothing`,
  // With a given id: a second call inserts nothing (and returns no row).
  createConversation: `
    insert into public.conversations (id, user_id, agent_id, title)
    values (coalesce($1::uuid, gen_random_uuid()), $2::uuid, $3::uuid, $4::text)
    on conflict (id) do nothing
    returning id`,
  recordSessionStart: `
    insert into public.voice_sessions
      (id, user_id, agent_id, conversation_id, runtime, instance_id, model, voice, started_at)
    values ($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::text, $6::text, $7::text, $8::text, $9::text::timestamptz)
    on conflict (id) do nothing`,
  appendMessage: `
    insert into public.chat_messages_v2 (conversation_id, user_id, role, content, metadata, item_id, created_at)
    values ($1::uuid, $2::uuid, $3::text, $4::text, $5::text::jsonb, $6::text, $7::text::timestamptz)
    on conflict (conversation_id, item_id) do nothing`,
  updateMessageMetadata: `
    update public.chat_messages_v2 set metadata = $3::text::jsonb
     where conversation_id = $1::uuid and item_id = $2::text`,
  recordSessionEnd: `
    update public.voice_sessions
       set ended_at = $2::text::timestamptz, close_code = $3::integer, close_reason = $4::text,
           input_text_tokens = $5::integer, input_audio_tokens = $6::integer,
           input_cached_text_tokens = $7::integer, input_cached_audio_tokens = $8::integer,
           output_text_tokens = $9::integer, output_audio_tokens = $10::integer,
           total_tokens = $11::integer, cost_usd = $12::numeric
     where id = $1::uuid`,
  recentMessages: `
    select role, content, created_at
      from public.chat_messages_v2
     where conversation_id = $1::uuid
     order by created_at desc, id desc
     limit $2::integer`,
  readSecret: `select public.relay_get_secret($1::text) as secret`,
  // Per-user limits: the logic (locking, expiry on the database clock) lives in the SQL functions of
  // supabase/migrations/20261121000005_relay_session_leases.sql, shared with the supabase-js adapter.
  acquireSessionLease: `
    select public.relay_acquire_session_lease($1::uuid, $2::uuid, $3::text, $4::integer, $5::integer) as lease`,
  renewSessionLease: `select public.relay_renew_session_lease($1::uuid, $2::integer, $3::numeric) as renewed`,
  releaseSessionLease: `select 1 as released from public.relay_release_session_lease($1::uuid)`,
  usageSince: `select public.relay_user_usage_since($1::uuid, $2::text::timestamptz) as usage`,
} as const;

/** Options for {@link SqlConversationStore}. */
export interface SqlStoreOptions {
  /**
   * Insert the user into `auth.users` before writing rows that reference it. True on bootstrapped
   * databases (PGlite, plain PostgreSQL), where nobody else creates users; never on Supabase.
   */
  ensureUsers: boolean;
}

/** A {@link ConversationStore} on a {@link SqlDriver}. `db` is exposed for migrations and tests. */
export class SqlConversationStore implements ConversationStore {
  private readonly knownUsers = new Set<string>();

  constructor(readonly db: SqlDriver, private readonly options: SqlStoreOptions) {}

  async findAgentForUser(agentId: string, userId: string): Promise<AgentRecord | null> {
    if (!isUuid(agentId) || !isUuid(userId)) return null;
    const rows = await this.run<AgentRow>("findAgentForUser", SQL.findAgentForUser, [agentId, userId]);
    return rows.length === 0 ? null : agentFromRow(rows[0]);
  }

  async conversationOwner(conversationId: string): Promise<string | null> {
    if (!isUuid(conversationId)) return null;
    const rows = await this.run<{ user_id: string | null }>("conversationOwner", SQL.conversationOwner, [
      conversationId,
    ]);
    return rows[0]?.user_id ?? null;
  }

  async createConversation(input: NewConversation): Promise<string> {
    requireUuid(input.userId, "userId");
    if (input.id !== undefined) requireUuid(input.id, "conversation id");
    if (input.agentId !== null) requireUuid(input.agentId, "agentId");
    await this.ensureUser(input.userId);
    const rows = await this.run<{ id: string }>("createConversation", SQL.createConversation, [
      input.id ?? null,
      input.userId,
      input.agentId,
      input.title,
    ]);
    if (rows.length > 0) return rows[0].id;
    // The id existed: fine when it is this user's (a retry), never when it is someone else's.
    const owner = await this.conversationOwner(input.id!);
    if (owner !== input.userId) {
      throw new StorageError(`conversation ${input.id} already exists for another user`, {
        transient: false,
      });
    }
    return input.id!;
  }

  async recordSessionStart(row: SessionStartRow): Promise<void> {
    requireUuid(row.sessionId, "sessionId");
    requireUuid(row.userId, "userId");
    await this.ensureUser(row.userId);
    await this.run("recordSessionStart", SQL.recordSessionStart, [
      row.sessionId,
      row.userId,
      row.agentId,
      row.conversationId,
      row.runtime,
      row.instanceId,
      row.model,
      row.voice,
      row.startedAt,
    ]);
  }

  async appendMessage(message: StoredMessage): Promise<void> {
    requireUuid(message.conversationId, "conversationId");
    requireUuid(message.userId, "userId");
    await this.run("appendMessage", SQL.appendMessage, [
      message.conversationId,
      message.userId,
      message.role,
      message.content,
      JSON.stringify(message.metadata),
      message.itemId,
      message.createdAt,
    ]);
  }

  async updateMessageMetadata(
    conversationId: string,
    itemId: string,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    requireUuid(conversationId, "conversationId");
    await this.run("updateMessageMetadata", SQL.updateMessageMetadata, [
      conversationId,
      itemId,
      JSON.stringify(metadata),
    ]);
  }

  async recordSessionEnd(row: SessionEndRow): Promise<void> {
    requireUuid(row.sessionId, "sessionId");
    const u = row.usage;
    await this.run("recordSessionEnd", SQL.recordSessionEnd, [
      row.sessionId,
      row.endedAt,
      row.closeCode,
      row.closeReason,
      u.inputTextTokens,
      u.inputAudioTokens,
      u.inputCachedTextTokens,
      u.inputCachedAudioTokens,
      u.outputTextTokens,
      u.outputAudioTokens,
      u.totalTokens,
      row.costUsd.toFixed(6),
    ]);
  }

  async recentMessages(conversationId: string, limit: number): Promise<RecentMessage[]> {
    if (!isUuid(conversationId) || limit <= 0) return [];
    const rows = await this.run<{ role: string; content: string | null; created_at: unknown }>(
      "recentMessages",
      SQL.recentMessages,
      [conversationId, Math.floor(limit)],
    );
    return rows.map((r) => ({ role: r.role, content: r.content ?? "", createdAt: toIso(r.created_at) }));
  }

  async readSecret(name: string): Promise<string | null> {
    const rows = await this.run<{ secret: string | null }>("readSecret", SQL.readSecret, [name]);
    return rows[0]?.secret ?? null;
  }

  async acquireSessionLease(input: SessionLeaseRequest): Promise<SessionLeaseResult> {
    requireLeaseRequest(input);
    await this.ensureUser(input.userId);
    const rows = await this.run<{ lease: unknown }>("acquireSessionLease", SQL.acquireSessionLease, [
      input.sessionId,
      input.userId,
      input.instanceId,
      input.maxSessions,
      input.ttlSeconds,
    ]);
    return leaseFromJson(rows[0]?.lease);
  }

  async renewSessionLease(
    sessionId: string,
    ttlSeconds: number,
    progress: { costUsd?: number } = {},
  ): Promise<boolean> {
    requireLeaseTtl(ttlSeconds);
    if (progress.costUsd !== undefined) requireCost(progress.costUsd);
    if (!isUuid(sessionId)) return false;
    const rows = await this.run<{ renewed: boolean | null }>("renewSessionLease", SQL.renewSessionLease, [
      sessionId,
      ttlSeconds,
      progress.costUsd === undefined ? null : progress.costUsd.toFixed(6),
    ]);
    return rows[0]?.renewed === true;
  }

  async releaseSessionLease(sessionId: string): Promise<void> {
    if (!isUuid(sessionId)) return;
    await this.run("releaseSessionLease", SQL.releaseSessionLease, [sessionId]);
  }

  async usageSince(userId: string, since: string): Promise<UserUsage> {
    const sinceAt = sinceIso(since);
    if (!isUuid(userId)) return noUsage();
    const rows = await this.run<{ usage: unknown }>("usageSince", SQL.usageSince, [userId, sinceAt]);
    return usageFromJson(rows[0]?.usage);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async ensureUser(userId: string): Promise<void> {
    if (!this.options.ensureUsers || this.knownUsers.has(userId)) return;
    await this.run("ensureUser", SQL.ensureUser, [userId]);
    this.knownUsers.add(userId);
  }

  private async run<Row>(operation: string, text: string, params: SqlParam[]): Promise<Row[]> {
    try {
      return await this.db.query<Row>(text, params);
    } catch (error) {
      throw toStorageError(error, operation, this.db.kind);
    }
  }
}
