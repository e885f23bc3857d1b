import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { openPgliteStore, pgliteDriver } from "./pglite_store.ts";
import { migrate, schemaStatus } from "./migrate.ts";
import { SqlConversationStore } from "./sql_store.ts";
import { runRlsCheck, runStoreContract } from "./store_contract.ts";

Deno.test("pglite store: the store contract (in memory)", async (t) => {
  const { store, migration } = await openPgliteStore();
  try {
    assert.equal(migration.bootstrapped, true);
    assert.equal(migration.applied.length > 0, true);
    await runStoreContract(t, { store, admin: store.db, createsUsers: true });

    // The RLS check is only worth something if it fails on a leak: open one hole at a time.
    const holes: Array<[string, string, RegExp]> = [
      [
        "create policy leak on public.chat_messages_v2 for select to authenticated using (true)",
        "drop policy leak on public.chat_messages_v2",
        /rls: user A sees messages/,
      ],
      [
        "grant execute on function public.relay_get_secret(text) to authenticated",
        "revoke execute on function public.relay_get_secret(text) from authenticated",
        /rls: user A called relay_get_secret/,
      ],
      [
        "create policy leak on public.agents for select to anon using (true); grant select on public.agents to anon",
        "drop policy leak on public.agents; revoke select on public.agents from anon",
        /rls: anon sees/,
      ],
      [
        "create policy leak on public.session_leases for select to authenticated using (true)",
        "drop policy leak on public.session_leases",
        /rls: user A sees session leases/,
      ],
      [
        "grant update on public.relay_user_limits to authenticated; " +
        "create policy leak on public.relay_user_limits for update to authenticated using (true)",
        "drop policy leak on public.relay_user_limits; revoke update on public.relay_user_limits from authenticated",
        /rls: user A raised their own limits/,
      ],
      [
        "grant execute on function public.relay_acquire_session_lease(uuid, uuid, text, integer, integer) to authenticated",
        "revoke execute on function public.relay_acquire_session_lease(uuid, uuid, text, integer, integer) from authenticated",
        /rls: user A called relay_acquire_session_lease/,
      ],
      [
        "grant execute on function public.relay_user_usage_since(uuid, timestamptz) to anon",
        "revoke execute on function public.relay_user_usage_since(uuid, timestamptz) from anon",
        /rls: anon called relay_user_usage_since/,
      ],
      [
        // A new privileged function that forgot its revoke (functions are executable by PUBLIC by default).
        "create function public.relay_forgotten() returns integer language sql security definer as 'select 1'",
        "drop function public.relay_forgotten()",
        /rls: security definer functions are executable: relay_forgotten\(\) to anon, relay_forgotten\(\) to authenticated/,
      ],
    ];
    for (const [open, close, expected] of holes) {
      await t.step(`the RLS check catches: ${open}`, async () => {
        await store.db.exec(open);
        try {
          await assert.rejects(runRlsCheck(store.db), expected);
        } finally {
          await store.db.exec(close);
        }
        await runRlsCheck(store.db);
      });
    }
  } finally {
    await store.close();
  }
});

Deno.test("pglite store: keeps conversations across restarts in its data directory", async () => {
  const dir = await mkdtemp(join(tmpdir(), "relay-pglite-"));
  try {
    const dataDir = join(dir, "nested", "pglite");
    const first = await openPgliteStore({ dataDir });
    // A second relay on the same directory would corrupt it: refused while the first one runs.
    await assert.rejects(openPgliteStore({ dataDir }), /in use by process \d+ \(this one\)/);
    const userId = crypto.randomUUID();
    const conversationId = await first.store.createConversation({ userId, agentId: null, title: "kept" });
    await first.store.appendMessage({
      conversationId,
      userId,
      role: "user",
      content: "remember me",
      itemId: "item_1",
      createdAt: "2026-11-21T10:00:00.000000Z",
      metadata: { input_method: "realtime_voice" },
    });
    await first.store.close();

    // A lock left by a process that is gone (a crash) is taken over.
    await writeFile(join(dataDir, "relay.lock"), "999999999\n");
    const second = await openPgliteStore({ dataDir });
    assert.equal((await readFile(join(dataDir, "relay.lock"), "utf8")).trim(), String(Deno.pid));
    try {
      // Nothing left to migrate on the second start.
      assert.deepEqual(second.migration.applied, []);
      assert.equal((await schemaStatus(second.store.db)).upToDate, true);
      assert.equal(await second.store.conversationOwner(conversationId), userId);
      assert.deepEqual(await second.store.recentMessages(conversationId, 10), [
        { role: "user", content: "remember me", createdAt: "2026-11-21T10:00:00.000Z" },
      ]);
    } finally {
      await second.store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("pglite store: migrations are additive on a database that already has the seed apps' tables", async () => {
  const db = await PGlite.create();
  const driver = pgliteDriver(db);
  try {
    // The stand-ins first (Supabase has them), then tables shaped like the seed apps' own.
    await migrate(driver, { migrations: [] });
    await driver.exec(`
      create table public.conversations (
        id uuid primary key default gen_random_uuid(),
        user_id uuid references auth.users (id),
        title text,
        created_at timestamptz default now()
      );
      create table public.chat_messages_v2 (
        id uuid primary key default gen_random_uuid(),
        conversation_id uuid references public.conversations (id) on delete cascade,
        user_id uuid references auth.users (id),
        role text not null,
        content text not null,
        metadata jsonb default '{}'::jsonb,
        created_at timestamptz default now()
      );
      alter table public.conversations enable row level security;
      create policy "seed: users manage own conversations" on public.conversations
        for all to authenticated using (auth.uid() = user_id);
      insert into auth.users (id) values ('11111111-1111-4111-8111-111111111111');
      insert into public.conversations (id, user_id, title)
        values ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111', 'typed chat');
      insert into public.chat_messages_v2 (conversation_id, user_id, role, content, metadata)
        values ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111', 'user', 'typed',
                '{"input_method":"keyboard"}'),
               ('22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111', 'assistant', 'reply',
                '{}');
    `);
    const result = await migrate(driver);
    assert.equal(result.applied.length, 5);
    const store = new SqlConversationStore(driver, { ensureUsers: true });
    const conversation = "22222222-2222-4222-8222-222222222222";
    const user = "11111111-1111-4111-8111-111111111111";
    assert.equal(await store.conversationOwner(conversation), user);
    // Rows without an item id coexist with the new unique index; relay rows are idempotent on it.
    const voice = {
      conversationId: conversation,
      userId: user,
      role: "user" as const,
      content: "spoken",
      itemId: "item_1",
      createdAt: new Date().toISOString(),
      metadata: { input_method: "realtime_voice" },
    };
    await store.appendMessage(voice);
    await store.appendMessage(voice);
    const rows = await driver.query<{ content: string }>(
      "select content from public.chat_messages_v2 where conversation_id = $1::uuid order by created_at",
      [conversation],
    );
    assert.deepEqual(rows.map((r) => r.content), ["typed", "reply", "spoken"]);
    const policies = await driver.query<{ policyname: string }>(
      "select policyname from pg_policies where tablename = 'conversations' order by policyname",
    );
    assert.deepEqual(policies.map((p) => p.policyname), [
      "relay: read own conversations",
      "seed: users manage own conversations",
    ]);
    await runRlsCheck(driver);
  } finally {
    await db.close();
  }
});
