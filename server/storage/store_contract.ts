/**
 * The store test suite, written once and run against every adapter (PGlite, PostgreSQL, supabase-js
 * through the PostgREST stand-in): each call registers the same steps on a `Deno.test` context.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { StorageError } from "../../shared/storage/errors.ts";
import type { ConversationStore, StoredMessage } from "../../shared/storage/store.ts";
import { turnIds, voiceTurnEvents } from "../../shared/storage/test_events.ts";
import { TranscriptRecorder, writeTranscript } from "../../shared/storage/transcript.ts";
import { costUsd } from "../../shared/storage/usage.ts";
import { migrate, schemaStatus } from "./migrate.ts";
import type { SqlDriver } from "./sql_driver.ts";

/** What the suite runs against. */
export interface ContractTarget {
  /** The adapter under test. */
  store: ConversationStore;
  /** Direct SQL on the same database as its owner (seeding agents, users and secrets; reading rows back). */
  admin: SqlDriver;
  /**
   * True when the store adds unknown users to the stand-in `auth.users` (the SQL adapters on a
   * bootstrapped database); false when users must exist already (supabase-js: Supabase Auth owns them).
   */
  createsUsers: boolean;
}

class Rollback extends Error {}

/** Creates a user in the (bootstrapped) `auth.users` and returns its id. */
export async function createUser(admin: SqlDriver): Promise<string> {
  const id = crypto.randomUUID();
  await admin.query("insert into auth.users (id, email) values ($1::uuid, $2)", [id, `${id}@example.test`]);
  return id;
}

/** Runs `server/storage/rls_check.sql` in a transaction that is always rolled back. */
export async function runRlsCheck(admin: SqlDriver): Promise<void> {
  const script = await readFile(new URL("./rls_check.sql", import.meta.url), "utf8");
  try {
    await admin.transaction(async (tx) => {
      await tx.exec(script);
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
}

async function messagesOf(admin: SqlDriver, conversationId: string) {
  return await admin.query<
    { role: string; content: string; item_id: string; metadata: Record<string, unknown> }
  >(
    `select role, content, item_id, metadata from public.chat_messages_v2
      where conversation_id = $1::uuid order by created_at, id`,
    [conversationId],
  );
}

/** A driver's timestamp (Date, or text) as an ISO string. */
function toIsoTime(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

function message(conversationId: string, userId: string, itemId: string, createdAt: string): StoredMessage {
  return {
    conversationId,
    userId,
    role: "user",
    content: `said in ${itemId}`,
    itemId,
    createdAt,
    metadata: { input_method: "realtime_voice", model: "gpt-realtime", item_id: itemId },
  };
}

/** Registers the contract's steps on `t` for `target`. */
export async function runStoreContract(t: Deno.TestContext, target: ContractTarget): Promise<void> {
  const { store, admin } = target;

  await t.step("schema is current; migrate again changes nothing", async () => {
    const status = await schemaStatus(admin);
    assert.equal(status.upToDate, true, `pending: ${status.pending.map((m) => m.name).join(", ")}`);
    assert.equal(status.bootstrapped, true);
    const again = await migrate(admin);
    assert.deepEqual(again.applied, []);
  });

  await t.step("agents: own and public are usable, another user's private one is not", async () => {
    const owner = await createUser(admin);
    const other = await createUser(admin);
    const [privateAgent] = await admin.query<{ id: string }>(
      `insert into public.agents (owner_id, name, instructions, voice, model, turn_detection, transcription_model,
                                  tools, client_overrides)
       values ($1::uuid, 'Private', 'Be brief.', 'marin', 'gpt-realtime', '{"type":"semantic_vad"}'::jsonb,
               'gpt-4o-transcribe', '[{"type":"function","name":"lookup"}]'::jsonb, '{"voice":true}'::jsonb)
       returning id`,
      [owner],
    );
    const [publicAgent] = await admin.query<{ id: string }>(
      `insert into public.agents (owner_id, name, is_public) values ($1::uuid, 'Public', true) returning id`,
      [owner],
    );
    assert.deepEqual(await store.findAgentForUser(privateAgent.id, owner), {
      id: privateAgent.id,
      ownerId: owner,
      name: "Private",
      instructions: "Be brief.",
      voice: "marin",
      model: "gpt-realtime",
      turnDetection: { type: "semantic_vad" },
      transcriptionModel: "gpt-4o-transcribe",
      tools: [{ type: "function", name: "lookup" }],
      isPublic: false,
      clientOverrides: { voice: true },
    });
    assert.equal(await store.findAgentForUser(privateAgent.id, other), null);
    const shared = await store.findAgentForUser(publicAgent.id, other);
    assert.equal(shared?.name, "Public");
    assert.equal(shared?.isPublic, true);
    assert.deepEqual(shared?.tools, []);
    assert.deepEqual(shared?.clientOverrides, {});
    assert.equal(await store.findAgentForUser(crypto.randomUUID(), owner), null);
    assert.equal(await store.findAgentForUser("not-a-uuid", owner), null);
    assert.equal(await store.findAgentForUser(publicAgent.id, "not-a-uuid"), null);
  });

  await t.step("conversations: create, owner, idempotent create with an id", async () => {
    const user = await createUser(admin);
    const other = await createUser(admin);
    const created = await store.createConversation({ userId: user, agentId: null, title: "Voice chat" });
    assert.equal(await store.conversationOwner(created), user);
    assert.equal(await store.conversationOwner(crypto.randomUUID()), null);
    assert.equal(await store.conversationOwner("42"), null);

    const chosen = crypto.randomUUID();
    assert.equal(
      await store.createConversation({ id: chosen, userId: user, agentId: null, title: "A" }),
      chosen,
    );
    assert.equal(
      await store.createConversation({ id: chosen, userId: user, agentId: null, title: "B" }),
      chosen,
    );
    const rows = await admin.query<{ title: string }>(
      "select title from public.conversations where id = $1::uuid",
      [
        chosen,
      ],
    );
    assert.deepEqual(rows, [{ title: "A" }]);
    await assert.rejects(
      store.createConversation({ id: chosen, userId: other, agentId: null, title: "C" }),
      (error: unknown) =>
        error instanceof StorageError && !error.transient && /another user/.test(error.message),
    );
  });

  if (target.createsUsers) {
    await t.step("conversations: a user the database has never seen is added to auth.users", async () => {
      const stranger = crypto.randomUUID();
      const id = await store.createConversation({ userId: stranger, agentId: null, title: "first visit" });
      assert.equal(await store.conversationOwner(id), stranger);
    });
  } else {
    await t.step("conversations: a user unknown to auth.users is a permanent error", async () => {
      await assert.rejects(
        store.createConversation({ userId: crypto.randomUUID(), agentId: null, title: "nobody" }),
        (error: unknown) => error instanceof StorageError && error.transient === false,
      );
    });
  }

  await t.step("messages: the same item twice is stored once", async () => {
    const user = await createUser(admin);
    const conversation = await store.createConversation({ userId: user, agentId: null, title: "t" });
    const first = message(conversation, user, "item_dup", "2026-11-21T10:00:00.000001Z");
    await store.appendMessage(first);
    await store.appendMessage(first);
    await store.appendMessage({ ...first, content: "a retry never overwrites" });
    const rows = await messagesOf(admin, conversation);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].content, "said in item_dup");
    assert.deepEqual(rows[0].metadata, first.metadata);
    assert.equal(rows[0].item_id, "item_dup");
  });

  await t.step("messages: the same item id in two conversations is two rows", async () => {
    const user = await createUser(admin);
    const a = await store.createConversation({ userId: user, agentId: null, title: "a" });
    const b = await store.createConversation({ userId: user, agentId: null, title: "b" });
    await store.appendMessage(message(a, user, "item_same", "2026-11-21T10:00:00Z"));
    await store.appendMessage(message(b, user, "item_same", "2026-11-21T10:00:00Z"));
    assert.equal((await messagesOf(admin, a)).length, 1);
    assert.equal((await messagesOf(admin, b)).length, 1);
  });

  await t.step("messages: stored order follows the conversation, not the order of writes", async () => {
    const user = await createUser(admin);
    const conversation = await store.createConversation({ userId: user, agentId: null, title: "t" });
    // A frozen clock: every item enters "in the same millisecond"; created_at must still order them.
    const recorder = new TranscriptRecorder({
      conversationId: conversation,
      userId: user,
      model: "gpt-realtime",
      voice: "marin",
      now: () => Date.parse("2026-11-21T10:00:00Z"),
    });
    const events = [
      ...voiceTurnEvents({ n: 1, user: "Hello there", assistant: "Hi! How can I help?" }),
      ...voiceTurnEvents({
        n: 2,
        user: "Tell me a story",
        assistant: "Once upon a time",
        status: "cancelled",
      }),
      ...voiceTurnEvents({ n: 3, user: "Stop. Weather?", assistant: "Sunny.", dialect: "beta" }),
    ];
    const writeOrder: string[] = [];
    for (const event of events) {
      for (const write of recorder.observe(event)) {
        if (write.kind === "append") writeOrder.push(write.message.itemId);
        await writeTranscript(store, write);
      }
    }
    // The assistant's answer was written before the user's transcript...
    assert.deepEqual(writeOrder.slice(0, 2), [turnIds(1).assistantItem, turnIds(1).userItem]);
    // ...yet reading by created_at gives the conversation's order.
    const rows = await messagesOf(admin, conversation);
    assert.deepEqual(rows.map((r) => [r.role, r.content]), [
      ["user", "Hello there"],
      ["assistant", "Hi! How can I help?"],
      ["user", "Tell me a story"],
      ["assistant", "Once"],
      ["user", "Stop. Weather?"],
      ["assistant", "Sunny."],
    ]);
    assert.equal(rows[3].metadata.interrupted, true);
    assert.equal(rows[3].metadata.interrupted_reason, "turn_detected");
    assert.equal(rows[1].metadata.interrupted, false);
    assert.equal(rows[1].metadata.voice, "marin");
    assert.equal(rows[1].metadata.input_method, "realtime_voice");
    assert.equal(rows[1].metadata.response_id, turnIds(1).response);
    const recent = await store.recentMessages(conversation, 4);
    assert.deepEqual(recent.map((m) => m.content), ["Sunny.", "Stop. Weather?", "Once", "Tell me a story"]);
    for (const m of recent) assert.equal(new Date(m.createdAt).toISOString(), m.createdAt);
  });

  await t.step(
    "messages: a truncated assistant turn is marked interrupted after it was written",
    async () => {
      const user = await createUser(admin);
      const conversation = await store.createConversation({ userId: user, agentId: null, title: "t" });
      const recorder = new TranscriptRecorder({
        conversationId: conversation,
        userId: user,
        model: "gpt-realtime",
        voice: "cedar",
        now: Date.now,
      });
      for (
        const event of voiceTurnEvents({ n: 1, user: "Hi", assistant: "A long answer the user cut short." })
      ) {
        for (const write of recorder.observe(event)) await writeTranscript(store, write);
      }
      const writes = recorder.observe({
        type: "conversation.item.truncated",
        item_id: turnIds(1).assistantItem,
        content_index: 0,
        audio_end_ms: 1500,
      });
      assert.equal(writes.length, 1);
      await writeTranscript(store, writes[0]);
      await writeTranscript(store, writes[0]);
      const rows = await messagesOf(admin, conversation);
      assert.equal(rows.length, 2);
      assert.equal(rows[1].metadata.interrupted, true);
      assert.equal(rows[1].metadata.audio_end_ms, 1500);
      assert.equal(rows[1].content, "A long answer the user cut short.");
    },
  );

  await t.step("messages: recentMessages is newest first and limited", async () => {
    const user = await createUser(admin);
    const conversation = await store.createConversation({ userId: user, agentId: null, title: "t" });
    for (let i = 0; i < 5; i++) {
      await store.appendMessage(message(conversation, user, `item_${i}`, `2026-11-21T10:00:0${i}.000000Z`));
    }
    const recent = await store.recentMessages(conversation, 3);
    assert.deepEqual(recent, [
      { role: "user", content: "said in item_4", createdAt: "2026-11-21T10:00:04.000Z" },
      { role: "user", content: "said in item_3", createdAt: "2026-11-21T10:00:03.000Z" },
      { role: "user", content: "said in item_2", createdAt: "2026-11-21T10:00:02.000Z" },
    ]);
    assert.deepEqual(await store.recentMessages(crypto.randomUUID(), 3), []);
    assert.deepEqual(await store.recentMessages("nope", 3), []);
  });

  await t.step("messages: a new message moves its conversation's updated_at", async () => {
    const user = await createUser(admin);
    const conversation = await store.createConversation({ userId: user, agentId: null, title: "t" });
    await store.appendMessage(message(conversation, user, "item_late", "2099-01-01T00:00:00.000000Z"));
    const [row] = await admin.query<{ updated_at: Date }>(
      "select updated_at from public.conversations where id = $1::uuid",
      [conversation],
    );
    assert.equal(new Date(row.updated_at).toISOString(), "2099-01-01T00:00:00.000Z");
  });

  await t.step("messages: a message for a missing conversation is a permanent error", async () => {
    const user = await createUser(admin);
    await assert.rejects(
      store.appendMessage(message(crypto.randomUUID(), user, "item_orphan", "2026-11-21T10:00:00Z")),
      (error: unknown) => error instanceof StorageError && error.transient === false,
    );
    await assert.rejects(
      store.appendMessage(message("not-a-uuid", user, "item_bad", "2026-11-21T10:00:00Z")),
      (error: unknown) => error instanceof StorageError && error.transient === false,
    );
  });

  await t.step("voice sessions: started once, ended with usage and cost", async () => {
    const user = await createUser(admin);
    const [agent] = await admin.query<{ id: string }>(
      "insert into public.agents (owner_id, name) values ($1::uuid, 'A') returning id",
      [user],
    );
    const conversation = await store.createConversation({ userId: user, agentId: agent.id, title: "t" });
    const sessionId = crypto.randomUUID();
    const start = {
      sessionId,
      userId: user,
      agentId: agent.id,
      conversationId: conversation,
      runtime: "deno",
      instanceId: "test-1",
      model: "gpt-realtime",
      voice: "marin",
      startedAt: "2026-11-21T10:00:00.000Z",
    };
    await store.recordSessionStart(start);
    await store.recordSessionStart({ ...start, instanceId: "a retry changes nothing" });
    const usage = {
      inputTextTokens: 1000,
      inputAudioTokens: 2000,
      inputCachedTextTokens: 500,
      inputCachedAudioTokens: 200,
      outputTextTokens: 100,
      outputAudioTokens: 3000,
      totalTokens: 6100,
    };
    const end = {
      sessionId,
      endedAt: "2026-11-21T10:05:00.000Z",
      closeCode: 1000,
      closeReason: "client closed",
      usage,
      costUsd: costUsd(usage),
    };
    await store.recordSessionEnd(end);
    await store.recordSessionEnd(end);
    const rows = await admin.query<Record<string, unknown>>(
      "select * from public.voice_sessions where id = $1::uuid",
      [sessionId],
    );
    assert.equal(rows.length, 1);
    const row = rows[0];
    assert.equal(row.user_id, user);
    assert.equal(row.agent_id, agent.id);
    assert.equal(row.conversation_id, conversation);
    assert.equal(row.instance_id, "test-1");
    assert.equal(row.runtime, "deno");
    assert.equal(row.voice, "marin");
    assert.equal(new Date(row.started_at as string).toISOString(), "2026-11-21T10:00:00.000Z");
    assert.equal(new Date(row.ended_at as string).toISOString(), "2026-11-21T10:05:00.000Z");
    assert.equal(row.close_code, 1000);
    assert.equal(row.close_reason, "client closed");
    assert.deepEqual(
      [
        row.input_text_tokens,
        row.input_audio_tokens,
        row.input_cached_text_tokens,
        row.input_cached_audio_tokens,
        row.output_text_tokens,
        row.output_audio_tokens,
        row.total_tokens,
      ],
      [1000, 2000, 500, 200, 100, 3000, 6100],
    );
    // 500*4 + 500*0.4 + 1800*32 + 200*0.4 + 100*16 + 3000*64 per 1M tokens.
    assert.equal(Number(row.cost_usd), 0.25348);
  });

  await t.step("secrets: read from Vault by name through relay_get_secret", async () => {
    const name = `relay_test_${crypto.randomUUID()}`;
    await admin.query("select vault.create_secret($1, $2)", ["sk-test-from-vault", name]);
    assert.equal(await store.readSecret(name), "sk-test-from-vault");
    assert.equal(await store.readSecret(`${name}_missing`), null);
  });

  const lease = (userId: string, sessionId: string = crypto.randomUUID(), maxSessions = 5, ttlSeconds = 60) =>
    store.acquireSessionLease({ sessionId, userId, instanceId: "contract", maxSessions, ttlSeconds });
  const leasesOf = (userId: string) =>
    admin.query<{ session_id: string; instance_id: string; ttl: string; live: boolean }>(
      `select session_id, instance_id, extract(epoch from expires_at - acquired_at)::text as ttl,
              expires_at > clock_timestamp() as live
         from public.session_leases where user_id = $1::uuid order by acquired_at, session_id`,
      [userId],
    );
  // Time passing without waiting: moves a lease's expiry into the past on the database's clock.
  const expire = (sessionId: string) =>
    admin.query(
      `update public.session_leases set expires_at = clock_timestamp() - interval '1 second'
        where session_id = $1::uuid`,
      [sessionId],
    );

  await t.step("session leases: the 6th concurrent lease of a user with max 5 is refused", async () => {
    const user = await createUser(admin);
    const other = await createUser(admin);
    for (let i = 1; i <= 5; i++) assert.deepEqual(await lease(user), { acquired: true, active: i });
    assert.deepEqual(await lease(user), { acquired: false, active: 5 });
    assert.deepEqual(await lease(user), { acquired: false, active: 5 });
    // Another user has slots of their own.
    assert.deepEqual(await lease(other), { acquired: true, active: 1 });
    const rows = await leasesOf(user);
    assert.equal(rows.length, 5);
    for (const row of rows) {
      assert.equal(row.instance_id, "contract");
      assert.equal(Number(row.ttl), 60, "expires_at is acquired_at + ttl on the database clock");
      assert.equal(row.live, true);
    }
    // A lower limit refuses sooner; the limit is the caller's, per call.
    assert.deepEqual(await lease(other, crypto.randomUUID(), 1), { acquired: false, active: 1 });
  });

  await t.step("session leases: a crashed instance's expired leases are reclaimed", async () => {
    const user = await createUser(admin);
    const crashed = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const id of crashed) assert.equal((await lease(user, id, 3)).acquired, true);
    assert.deepEqual(await lease(user, crypto.randomUUID(), 3), { acquired: false, active: 3 });
    // One of the lost sessions had its voice_sessions row written; nobody will ever end it.
    await store.recordSessionStart({
      sessionId: crashed[0],
      userId: user,
      agentId: null,
      conversationId: await store.createConversation({ userId: user, agentId: null, title: "lost" }),
      runtime: "deno",
      instanceId: "contract",
      model: "gpt-realtime",
      voice: null,
      startedAt: new Date(Date.now() - 60_000).toISOString(),
    });
    await expire(crashed[0]);
    await expire(crashed[1]);
    const [{ expires_at: lostAt }] = await admin.query<{ expires_at: unknown }>(
      "select expires_at from public.session_leases where session_id = $1::uuid",
      [crashed[0]],
    );
    assert.deepEqual(await lease(user, crypto.randomUUID(), 3), { acquired: true, active: 2 });
    assert.deepEqual(await lease(user, crypto.randomUUID(), 3), { acquired: true, active: 3 });
    assert.deepEqual(await lease(user, crypto.randomUUID(), 3), { acquired: false, active: 3 });
    const ids = (await leasesOf(user)).map((r) => r.session_id);
    assert.equal(ids.includes(crashed[0]) || ids.includes(crashed[1]), false, "expired leases are deleted");
    assert.equal(ids.includes(crashed[2]), true);
    // The lost session's row is closed where its lease ran out.
    const [row] = await admin.query<{ ended_at: unknown; close_reason: string }>(
      "select ended_at, close_reason from public.voice_sessions where id = $1::uuid",
      [crashed[0]],
    );
    assert.equal(toIsoTime(row.ended_at), toIsoTime(lostAt));
    assert.match(row.close_reason, /lease expired/);
    // The lost instance comes back: its lease is gone, so renewing says so.
    assert.equal(await store.renewSessionLease(crashed[0], 60), false);
  });

  await t.step("session leases: renew extends, release frees, acquire again is a renewal", async () => {
    const user = await createUser(admin);
    const other = await createUser(admin);
    const sessions = [1, 2, 3, 4, 5].map(() => crypto.randomUUID());
    for (const id of sessions) assert.equal((await lease(user, id, 5, 30)).acquired, true);
    const expiry = async (id: string) => {
      const [row] = await admin.query<{ at: string }>(
        "select extract(epoch from expires_at)::text as at from public.session_leases where session_id = $1::uuid",
        [id],
      );
      return Number(row.at);
    };
    const before = await expiry(sessions[0]);
    assert.equal(await store.renewSessionLease(sessions[0], 600), true);
    // Renewed at a later database time with a longer ttl: at least 570 s later than before.
    assert.equal((await expiry(sessions[0])) - before >= 570, true);

    // Acquiring a session that holds a lease again is a renewal: at the limit, and not counted twice.
    assert.deepEqual(await lease(user, sessions[1], 5, 300), { acquired: true, active: 5 });
    assert.equal((await leasesOf(user)).length, 5);
    // A lease that expired but was not reclaimed yet (nobody took its slot) can still be renewed.
    await expire(sessions[2]);
    assert.equal(await store.renewSessionLease(sessions[2], 30), true);
    assert.equal((await leasesOf(user)).every((r) => r.live), true);

    await store.releaseSessionLease(sessions[3]);
    await store.releaseSessionLease(sessions[3]);
    assert.equal((await leasesOf(user)).length, 4);
    assert.equal(await store.renewSessionLease(sessions[3], 30), false);
    assert.deepEqual(await lease(user), { acquired: true, active: 5 });

    assert.equal(await store.renewSessionLease(crypto.randomUUID(), 30), false);
    assert.equal(await store.renewSessionLease("not-a-uuid", 30), false);
    await store.releaseSessionLease("not-a-uuid");
    // A session id is one user's: another user cannot take it over.
    await assert.rejects(
      lease(other, sessions[0]),
      (error: unknown) => error instanceof StorageError && !error.transient,
    );
    for (
      const bad of [
        { maxSessions: 0, ttlSeconds: 30 },
        { maxSessions: 5, ttlSeconds: 0 },
        { maxSessions: 2.5, ttlSeconds: 30 },
        { maxSessions: 5, ttlSeconds: 86_401 },
      ]
    ) {
      await assert.rejects(
        store.acquireSessionLease({ sessionId: crypto.randomUUID(), userId: other, instanceId: "c", ...bad }),
        (error: unknown) => error instanceof StorageError && !error.transient,
        JSON.stringify(bad),
      );
    }
    await assert.rejects(
      lease("not-a-uuid"),
      (error: unknown) => error instanceof StorageError && !error.transient,
    );
    assert.deepEqual(await leasesOf(other), []);
  });

  await t.step("session leases: 20 acquires at once for one user with max 5 take exactly 5", async () => {
    const user = await createUser(admin);
    const results = await Promise.all(Array.from({ length: 20 }, () => lease(user)));
    assert.equal(results.filter((r) => r.acquired).length, 5);
    for (const r of results) assert.equal(r.active <= 5, true, `active ${r.active}`);
    assert.equal((await leasesOf(user)).length, 5);
  });

  if (admin.kind === "postgres") {
    await t.step(
      "session leases: an acquire waits for the user's lock, then counts what was committed",
      async () => {
        // Deterministic where the race above is probabilistic: another acquirer holds the user's lock
        // with 5 leases not yet committed. Without the lock, the acquire would count 0 and take a 6th.
        const user = await createUser(admin);
        let pending: Promise<{ acquired: boolean; active: number }> | undefined;
        let queued = false;
        await admin.transaction(async (tx) => {
          await tx.query(
            "select pg_advisory_xact_lock(hashtext('relay_session_leases'), hashtext($1::text))",
            [
              user,
            ],
          );
          for (let i = 0; i < 5; i++) {
            await tx.query(
              `insert into public.session_leases (session_id, user_id, instance_id, expires_at)
             values (gen_random_uuid(), $1::uuid, 'other-instance', now() + interval '1 minute')`,
              [user],
            );
          }
          pending = lease(user);
          pending.catch(() => {}); // awaited below; never an unhandled rejection if this transaction fails
          for (let i = 0; i < 500 && !queued; i++) {
            const [row] = await admin.query<{ n: number }>(
              "select count(*)::integer as n from pg_locks where locktype = 'advisory' and not granted",
            );
            queued = row.n > 0;
            if (!queued) await new Promise((resolve) => setTimeout(resolve, 10));
          }
        });
        assert.equal(queued, true, "the acquire should wait for the user's advisory lock");
        assert.deepEqual(await pending, { acquired: false, active: 5 });
      },
    );
  }

  await t.step("usage: ended and open sessions since a time, and the user's own limits", async () => {
    const user = await createUser(admin);
    const other = await createUser(admin);
    const [{ now }] = await admin.query<{ now: unknown }>("select clock_timestamp() as now");
    const at = (secondsFromNow: number) =>
      new Date(new Date(toIsoTime(now)).getTime() + secondsFromNow * 1000).toISOString();
    const since = at(-3 * 3600);
    const insertSession = async (
      userId: string,
      started: string,
      ended: string | null,
      cost: number,
      id: string = crypto.randomUUID(),
    ) => {
      await admin.query(
        `insert into public.voice_sessions (id, user_id, runtime, instance_id, model, started_at, ended_at, cost_usd)
         values ($1::uuid, $2::uuid, 'deno', 'contract', 'gpt-realtime', $3::text::timestamptz,
                 $4::text::timestamptz, $5::numeric)`,
        [id, userId, started, ended, cost.toFixed(6)],
      );
      return id;
    };
    assert.deepEqual(await store.usageSince(user, since), {
      seconds: 0,
      costUsd: 0,
      limits: { dailySeconds: null, dailyUsd: null },
    });

    // Ended inside the window, written by the relay: 300 s, $0.30.
    const conversation = await store.createConversation({ userId: user, agentId: null, title: "quota" });
    const ended = crypto.randomUUID();
    const base = {
      userId: user,
      agentId: null,
      conversationId: conversation,
      runtime: "deno",
      instanceId: "contract",
      model: "gpt-realtime",
      voice: null,
    };
    await store.recordSessionStart({ ...base, sessionId: ended, startedAt: at(-2 * 3600) });
    await store.recordSessionEnd({
      sessionId: ended,
      endedAt: at(-2 * 3600 + 300),
      closeCode: 1000,
      closeReason: "done",
      usage: {
        inputTextTokens: 0,
        inputAudioTokens: 0,
        inputCachedTextTokens: 0,
        inputCachedAudioTokens: 0,
        outputTextTokens: 0,
        outputAudioTokens: 0,
        totalTokens: 0,
      },
      costUsd: 0.3,
    });
    // Across the start of the window: half of its 200 s and half of its $0.20.
    await insertSession(user, at(-3 * 3600 - 100), at(-3 * 3600 + 100), 0.2);
    // Before the window: nothing.
    await insertSession(user, at(-3 * 3600 - 1000), at(-3 * 3600 - 500), 5);
    // Open, lease lapsed 45 s after the start (its instance crashed): 45 s, and its last reported $0.04.
    const lapsed = await insertSession(user, at(-600), null, 0);
    assert.equal((await lease(user, lapsed)).acquired, true);
    assert.equal(await store.renewSessionLease(lapsed, 60, { costUsd: 0.04 }), true);
    await admin.query(
      "update public.session_leases set expires_at = $2::text::timestamptz where session_id = $1::uuid",
      [lapsed, at(-600 + 45)],
    );
    // Open without a lease, started 2 h ago: capped at 60 minutes.
    await insertSession(user, at(-2 * 3600 + 600), null, 0);
    // Another user's session never counts.
    await insertSession(other, at(-3600), at(-60), 9);

    const usage = await store.usageSince(user, since);
    assert.equal(Math.abs(usage.seconds - (300 + 100 + 45 + 3600)) < 0.01, true, `seconds ${usage.seconds}`);
    assert.equal(Math.abs(usage.costUsd - (0.3 + 0.1 + 0.04)) < 1e-6, true, `cost ${usage.costUsd}`);

    // Open with a live lease: counts until now (at least the minute since it started).
    const running = await insertSession(user, at(-60), null, 0);
    assert.equal((await lease(user, running)).acquired, true);
    assert.equal(await store.renewSessionLease(running, 60, { costUsd: 0.5 }), true);
    const withRunning = await store.usageSince(user, since);
    const runningSeconds = withRunning.seconds - usage.seconds;
    assert.equal(runningSeconds >= 60 && runningSeconds < 3600, true, `running ${runningSeconds}`);
    assert.equal(Math.abs(withRunning.costUsd - usage.costUsd - 0.5) < 1e-6, true);
    // Once it has ended, the row's own end and final cost count.
    await store.recordSessionEnd({
      sessionId: running,
      endedAt: at(0),
      closeCode: 1000,
      closeReason: "done",
      usage: {
        inputTextTokens: 0,
        inputAudioTokens: 0,
        inputCachedTextTokens: 0,
        inputCachedAudioTokens: 0,
        outputTextTokens: 0,
        outputAudioTokens: 0,
        totalTokens: 0,
      },
      costUsd: 0.6,
    });
    assert.equal(await store.renewSessionLease(running, 60, { costUsd: 0.7 }), true);
    const afterEnd = await store.usageSince(user, since);
    assert.equal(Math.abs(afterEnd.seconds - usage.seconds - 60) < 0.01, true, `ended ${afterEnd.seconds}`);
    assert.equal(
      Math.abs(afterEnd.costUsd - usage.costUsd - 0.6) < 1e-6,
      true,
      "a renew after the end changes nothing",
    );

    // The user's own limits: a full row, then a partial one.
    await admin.query(
      "insert into public.relay_user_limits (user_id, daily_seconds, daily_usd) values ($1::uuid, 1800, 2.5)",
      [user],
    );
    assert.deepEqual((await store.usageSince(user, since)).limits, { dailySeconds: 1800, dailyUsd: 2.5 });
    await admin.query("update public.relay_user_limits set daily_seconds = null where user_id = $1::uuid", [
      user,
    ]);
    assert.deepEqual((await store.usageSince(user, since)).limits, { dailySeconds: null, dailyUsd: 2.5 });
    assert.deepEqual((await store.usageSince(other, since)).limits, { dailySeconds: null, dailyUsd: null });

    assert.deepEqual(await store.usageSince(crypto.randomUUID(), since), {
      seconds: 0,
      costUsd: 0,
      limits: { dailySeconds: null, dailyUsd: null },
    });
    assert.deepEqual((await store.usageSince("not-a-uuid", since)).seconds, 0);
    await assert.rejects(
      store.usageSince(user, "yesterday-ish"),
      (error: unknown) => error instanceof StorageError && !error.transient,
    );
    await assert.rejects(
      store.renewSessionLease(running, 60, { costUsd: -1 }),
      (error: unknown) => error instanceof StorageError && !error.transient,
    );
  });

  await t.step(
    "row-level security: another user cannot read; leases, limits and functions are the relay's",
    async () => {
      await runRlsCheck(admin);
    },
  );
}
