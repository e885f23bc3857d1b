import assert from "node:assert/strict";
import { openPgliteStore } from "../../server/storage/pglite_store.ts";
import { PostgrestStandin, type RecordedRequest } from "../../server/storage/postgrest_standin.ts";
import { createUser, runStoreContract } from "../../server/storage/store_contract.ts";
import { StorageError } from "./errors.ts";
import { AGENT_COLUMNS } from "./rows.ts";
import { createSupabaseStore } from "./supabase_store.ts";
import { WriteQueue } from "./write_queue.ts";

const serviceKey = "test-service-role-key-0123456789";

function only(requests: RecordedRequest[], predicate: (r: RecordedRequest) => boolean): RecordedRequest {
  const found = requests.filter(predicate);
  assert.equal(found.length >= 1, true, "expected a matching request");
  return found[found.length - 1];
}

Deno.test("supabase store: the store contract, through a PostgREST stand-in on a real database", async (t) => {
  const { store: database } = await openPgliteStore();
  const admin = database.db;
  const standin = new PostgrestStandin(admin, serviceKey);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, standin.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const store = createSupabaseStore({ url, serviceRoleKey: serviceKey });
  try {
    await runStoreContract(t, { store, admin, createsUsers: false });

    await t.step("requests: service key in apikey and Authorization, never a user's", () => {
      assert.equal(standin.requests.length > 20, true);
      for (const request of standin.requests) {
        assert.equal(request.apikey, serviceKey);
        assert.equal(request.authorization, `Bearer ${serviceKey}`);
      }
    });

    await t.step("requests: idempotent writes are upserts that ignore duplicates", () => {
      const append = only(standin.requests, (r) => r.method === "POST" && r.path === "chat_messages_v2");
      assert.deepEqual(append.query, [["on_conflict", "conversation_id,item_id"]]);
      assert.equal(append.prefer, "resolution=ignore-duplicates");
      assert.equal(append.contentType, "application/json");
      const body = append.body as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), [
        "content",
        "conversation_id",
        "created_at",
        "item_id",
        "metadata",
        "role",
        "user_id",
      ]);
      const start = only(standin.requests, (r) => r.method === "POST" && r.path === "voice_sessions");
      assert.deepEqual(start.query, [["on_conflict", "id"]]);
      assert.equal(start.prefer, "resolution=ignore-duplicates");
      const end = only(standin.requests, (r) => r.method === "PATCH" && r.path === "voice_sessions");
      assert.equal(end.query.length, 1);
      assert.equal(end.query[0][0], "id");
      assert.match(end.query[0][1], /^eq\.[0-9a-f-]{36}$/);
    });

    await t.step("requests: agent lookup filters by user, secret comes from the RPC", () => {
      const agent = only(standin.requests, (r) => r.method === "GET" && r.path === "agents");
      const query = new Map(agent.query);
      assert.equal(query.get("select"), AGENT_COLUMNS);
      assert.match(query.get("id") ?? "", /^eq\.[0-9a-f-]{36}$/);
      assert.match(query.get("or") ?? "", /^\(owner_id\.eq\.[0-9a-f-]{36},is_public\.is\.true\)$/);
      const secret = only(standin.requests, (r) => r.path === "rpc/relay_get_secret");
      assert.equal(secret.method, "POST");
      assert.deepEqual(Object.keys(secret.body as object), ["secret_name"]);
    });

    await t.step("requests: leases and usage are RPCs with named arguments", () => {
      const acquire = only(standin.requests, (r) => r.path === "rpc/relay_acquire_session_lease");
      assert.equal(acquire.method, "POST");
      assert.deepEqual(Object.keys(acquire.body as object).sort(), [
        "p_instance_id",
        "p_max_sessions",
        "p_session_id",
        "p_ttl_seconds",
        "p_user_id",
      ]);
      const renewals = standin.requests.filter((r) => r.path === "rpc/relay_renew_session_lease");
      // Without a cost the defaulted argument is left out, as PostgREST allows; with one it is a number.
      assert.equal(renewals.some((r) => !("p_cost_usd" in (r.body as object))), true);
      const withCost = renewals.find((r) => "p_cost_usd" in (r.body as object));
      assert.equal(typeof (withCost?.body as Record<string, unknown>).p_cost_usd, "number");
      const release = only(standin.requests, (r) => r.path === "rpc/relay_release_session_lease");
      assert.deepEqual(Object.keys(release.body as object), ["p_session_id"]);
      const usage = only(standin.requests, (r) => r.path === "rpc/relay_user_usage_since");
      assert.deepEqual(Object.keys(usage.body as object).sort(), ["p_since", "p_user_id"]);
      assert.match(String((usage.body as Record<string, unknown>).p_since), /^\d{4}-\d\d-\d\dT.*Z$/);
    });

    await t.step("a wrong key is a permanent error", async () => {
      const wrong = createSupabaseStore({ url, serviceRoleKey: "not-the-key" });
      await assert.rejects(
        wrong.readSecret("openai_api_key"),
        (error: unknown) =>
          error instanceof StorageError && !error.transient && /HTTP 401/.test(error.message),
      );
    });

    await t.step(
      "PostgREST without its database (503) is transient; queued writes land once it is back",
      async () => {
        const userId = await createUser(admin);
        const conversationId = await store.createConversation({ userId, agentId: null, title: "outage" });
        const queue = new WriteQueue({ baseDelayMs: 10, maxDelayMs: 50 });
        standin.unavailable = true;
        try {
          for (let i = 0; i < 3; i++) {
            queue.push(conversationId, () =>
              store.appendMessage({
                conversationId,
                userId,
                role: "user",
                content: `line ${i}`,
                itemId: `item_${i}`,
                createdAt: `2026-11-21T10:00:0${i}.000000Z`,
                metadata: {},
              }));
          }
          for (let i = 0; i < 500 && queue.stats().retries < 2; i++) {
            await new Promise((r) => setTimeout(r, 5));
          }
          assert.equal(queue.stats().retries >= 2, true);
          assert.equal(queue.pending, 3);
        } finally {
          standin.unavailable = false;
        }
        assert.deepEqual(await queue.flush(10_000), { flushed: true, pending: 0 });
        assert.equal(queue.stats().failures, 0);
        const recent = await store.recentMessages(conversationId, 10);
        assert.deepEqual(recent.map((m) => m.content), ["line 2", "line 1", "line 0"]);
      },
    );
  } finally {
    await store.close();
    await server.shutdown();
    await database.close();
  }
});
