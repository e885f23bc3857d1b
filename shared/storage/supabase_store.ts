/**
 * The production store: supabase-js with the service-role key, through Supabase's REST layer
 * (PostgREST). The only store the edge function uses; web-standard (fetch), no `node:*`.
 *
 * The same statements as the SQL adapters, as PostgREST requests: idempotent inserts are upserts with
 * `on_conflict` + `Prefer: resolution=ignore-duplicates` (INSERT ... ON CONFLICT DO NOTHING), the
 * secret comes from the `relay_get_secret` RPC, and the per-user limits (session leases, usage) are
 * RPCs of the same SQL functions the SQL adapters call. The service role bypasses row-level security, so reads
 * filter by user explicitly.
 *
 * @module
 */
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { isTransientSqlState, StorageError } from "./errors.ts";
import {
  leaseFromJson,
  noUsage,
  requireCost,
  requireLeaseRequest,
  requireLeaseTtl,
  sinceIso,
  usageFromJson,
} from "./limit_rows.ts";
import { AGENT_COLUMNS, agentFromRow, type AgentRow, toIso } from "./rows.ts";
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
} from "./store.ts";
import { isUuid, requireUuid } from "./uuid.ts";

/** Options for {@link createSupabaseStore}. */
export interface SupabaseStoreOptions {
  /** The project URL, e.g. `https://<ref>.supabase.co` (`SUPABASE_URL`). */
  url: string;
  /** The service-role key (`SUPABASE_SERVICE_ROLE_KEY`, or a `sb_secret_...` key). Never sent to clients. */
  serviceRoleKey: string;
  /** Milliseconds before a request is abandoned (a transient error); default 10 000. */
  timeoutMs?: number;
  /** For tests; default the global fetch. */
  fetch?: typeof fetch;
}

interface ResultLike<T> {
  data: T | null;
  error: { message: string; code?: string; details?: string | null; hint?: string | null } | null;
  status: number;
}

/**
 * Whether a failed PostgREST call may succeed later: network failures and timeouts (status 0), 408,
 * 429, 5xx (503 is PostgREST without a database connection), and transient SQLSTATEs. Client errors
 * (bad key 401, permission 403, constraint 409, bad input 400) are permanent.
 */
export function isTransientPostgrestFailure(status: number, code: string | undefined): boolean {
  if (code && /^[0-9A-Z]{5}$/.test(code) && isTransientSqlState(code)) return true;
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** Creates the supabase-js store. Cheap; no request is made until a method is called. */
export function createSupabaseStore(options: SupabaseStoreOptions): SupabaseConversationStore {
  const client = createClient(options.url, options.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    db: { timeout: options.timeoutMs ?? 10_000 },
    global: {
      headers: { "X-Client-Info": "realtime-voice-relay" },
      ...(options.fetch ? { fetch: options.fetch } : {}),
    },
  });
  return new SupabaseConversationStore(client);
}

/** A {@link ConversationStore} on supabase-js. */
export class SupabaseConversationStore implements ConversationStore {
  constructor(private readonly client: SupabaseClient) {}

  async findAgentForUser(agentId: string, userId: string): Promise<AgentRecord | null> {
    if (!isUuid(agentId) || !isUuid(userId)) return null;
    const row = this.check(
      "findAgentForUser",
      await this.client.from("agents").select(AGENT_COLUMNS).eq("id", agentId)
        .or(`owner_id.eq.${userId},is_public.is.true`).maybeSingle<AgentRow>(),
    );
    return row ? agentFromRow(row) : null;
  }

  async conversationOwner(conversationId: string): Promise<string | null> {
    if (!isUuid(conversationId)) return null;
    const row = this.check(
      "conversationOwner",
      await this.client.from("conversations").select("user_id").eq("id", conversationId)
        .maybeSingle<{ user_id: string | null }>(),
    );
    return row?.user_id ?? null;
  }

  async createConversation(input: NewConversation): Promise<string> {
    requireUuid(input.userId, "userId");
    if (input.agentId !== null) requireUuid(input.agentId, "agentId");
    const values = { user_id: input.userId, agent_id: input.agentId, title: input.title };
    if (input.id === undefined) {
      const row = this.check(
        "createConversation",
        await this.client.from("conversations").insert(values).select("id").single<{ id: string }>(),
      );
      if (!row) throw new StorageError("createConversation returned no row", { transient: false });
      return row.id;
    }
    requireUuid(input.id, "conversation id");
    const rows = this.check(
      "createConversation",
      await this.client.from("conversations").upsert({ id: input.id, ...values }, {
        onConflict: "id",
        ignoreDuplicates: true,
      }).select("id"),
    );
    if (rows && rows.length > 0) return input.id;
    // The id existed: fine when it is this user's (a retry), never when it is someone else's.
    const owner = await this.conversationOwner(input.id);
    if (owner !== input.userId) {
      throw new StorageError(`conversation ${input.id} already exists for another user`, {
        transient: false,
      });
    }
    return input.id;
  }

  async recordSessionStart(row: SessionStartRow): Promise<void> {
    requireUuid(row.sessionId, "sessionId");
    requireUuid(row.userId, "userId");
    this.check(
      "recordSessionStart",
      await this.client.from("voice_sessions").upsert({
        id: row.sessionId,
        user_id: row.userId,
        agent_id: row.agentId,
        conversation_id: row.conversationId,
        runtime: row.runtime,
        instance_id: row.instanceId,
        model: row.model,
        voice: row.voice,
        started_at: row.startedAt,
      }, { onConflict: "id", ignoreDuplicates: true }),
    );
  }

  async appendMessage(message: StoredMessage): Promise<void> {
    requireUuid(message.conversationId, "conversationId");
    requireUuid(message.userId, "userId");
    this.check(
      "appendMessage",
      await this.client.from("chat_messages_v2").upsert({
        conversation_id: message.conversationId,
        user_id: message.userId,
        role: message.role,
        content: message.content,
        metadata: message.metadata,
        item_id: message.itemId,
        created_at: message.createdAt,
      }, { onConflict: "conversation_id,item_id", ignoreDuplicates: true }),
    );
  }

  async updateMessageMetadata(
    conversationId: string,
    itemId: string,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    requireUuid(conversationId, "conversationId");
    this.check(
      "updateMessageMetadata",
      await this.client.from("chat_messages_v2").update({ metadata }).eq("conversation_id", conversationId)
        .eq("item_id", itemId),
    );
  }

  async recordSessionEnd(row: SessionEndRow): Promise<void> {
    requireUuid(row.sessionId, "sessionId");
    const u = row.usage;
    this.check(
      "recordSessionEnd",
      await this.client.from("voice_sessions").update({
        ended_at: row.endedAt,
        close_code: row.closeCode,
        close_reason: row.closeReason,
        input_text_tokens: u.inputTextTokens,
        input_audio_tokens: u.inputAudioTokens,
        input_cached_text_tokens: u.inputCachedTextTokens,
        input_cached_audio_tokens: u.inputCachedAudioTokens,
        output_text_tokens: u.outputTextTokens,
        output_audio_tokens: u.outputAudioTokens,
        total_tokens: u.totalTokens,
        cost_usd: row.costUsd.toFixed(6),
      }).eq("id", row.sessionId),
    );
  }

  async recentMessages(conversationId: string, limit: number): Promise<RecentMessage[]> {
    if (!isUuid(conversationId) || limit <= 0) return [];
    const rows = this.check(
      "recentMessages",
      await this.client.from("chat_messages_v2").select("role,content,created_at")
        .eq("conversation_id", conversationId).order("created_at", { ascending: false })
        .order("id", { ascending: false }).limit(Math.floor(limit))
        .overrideTypes<
          Array<{ role: string; content: string | null; created_at: string }>,
          { merge: false }
        >(),
    );
    return (rows ?? []).map((r) => ({
      role: r.role,
      content: r.content ?? "",
      createdAt: toIso(r.created_at),
    }));
  }

  async readSecret(name: string): Promise<string | null> {
    const value = this.check(
      "readSecret",
      await this.client.rpc("relay_get_secret", { secret_name: name }),
    );
    return typeof value === "string" ? value : null;
  }

  async acquireSessionLease(input: SessionLeaseRequest): Promise<SessionLeaseResult> {
    requireLeaseRequest(input);
    const value = this.check(
      "acquireSessionLease",
      await this.client.rpc("relay_acquire_session_lease", {
        p_session_id: input.sessionId,
        p_user_id: input.userId,
        p_instance_id: input.instanceId,
        p_max_sessions: input.maxSessions,
        p_ttl_seconds: input.ttlSeconds,
      }),
    );
    return leaseFromJson(value);
  }

  async renewSessionLease(
    sessionId: string,
    ttlSeconds: number,
    progress: { costUsd?: number } = {},
  ): Promise<boolean> {
    requireLeaseTtl(ttlSeconds);
    if (progress.costUsd !== undefined) requireCost(progress.costUsd);
    if (!isUuid(sessionId)) return false;
    // p_cost_usd has a default in SQL: left out when there is nothing to report.
    const args: Record<string, unknown> = { p_session_id: sessionId, p_ttl_seconds: ttlSeconds };
    if (progress.costUsd !== undefined) args.p_cost_usd = Number(progress.costUsd.toFixed(6));
    const value = this.check("renewSessionLease", await this.client.rpc("relay_renew_session_lease", args));
    return value === true;
  }

  async releaseSessionLease(sessionId: string): Promise<void> {
    if (!isUuid(sessionId)) return;
    this.check(
      "releaseSessionLease",
      await this.client.rpc("relay_release_session_lease", { p_session_id: sessionId }),
    );
  }

  async usageSince(userId: string, since: string): Promise<UserUsage> {
    const sinceAt = sinceIso(since);
    if (!isUuid(userId)) return noUsage();
    const value = this.check(
      "usageSince",
      await this.client.rpc("relay_user_usage_since", { p_user_id: userId, p_since: sinceAt }),
    );
    return usageFromJson(value);
  }

  close(): Promise<void> {
    // Nothing is held open: requests are plain fetches, and no realtime channel is ever joined.
    return Promise.resolve();
  }

  private check<T>(operation: string, result: ResultLike<T>): T | null {
    if (!result.error) return result.data;
    const { message, code } = result.error;
    throw new StorageError(
      `supabase ${operation} failed (HTTP ${result.status}${code ? `, ${code}` : ""}): ${message}`,
      {
        transient: isTransientPostgrestFailure(result.status, code),
        code: code || null,
        cause: result.error,
      },
    );
  }
}
