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

  await t.step("row-level security: another user cannot read; public agents are readable", async () => {
    await runRlsCheck(admin);
  });
}
