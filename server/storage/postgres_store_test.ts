import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { StorageError } from "../../shared/storage/errors.ts";
import { turnIds, voiceTurnEvents } from "../../shared/storage/test_events.ts";
import { TranscriptRecorder, writeTranscript } from "../../shared/storage/transcript.ts";
import { WriteQueue } from "../../shared/storage/write_queue.ts";
import { schemaStatus } from "./migrate.ts";
import { startTestCluster } from "./pg_test_cluster.ts";
import { openPostgresStore, postgresDriver } from "./postgres_store.ts";
import { createUser, runStoreContract } from "./store_contract.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

async function migrateCli(url: string, ...args: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "server/migrate.ts", ...args],
    cwd: repoRoot,
    env: { DATABASE_URL: url },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: result.code, output: decoder.decode(result.stdout) + decoder.decode(result.stderr) };
}

Deno.test("postgres store: migrations, the store contract, and a database that goes away", async (t) => {
  const cluster = await startTestCluster();
  const admin = postgresDriver(cluster.url);
  try {
    await t.step(
      "the relay refuses a database whose schema is behind, naming `deno task migrate`",
      async () => {
        await assert.rejects(openPostgresStore({ url: cluster.url }), /deno task migrate/);
        const status = await migrateCli(cluster.url, "--status");
        assert.equal(status.code, 1, status.output);
        assert.match(status.output, /5 pending/);
      },
    );

    await t.step(
      "`deno task migrate` bootstraps and applies the migrations, and a second run is a no-op",
      async () => {
        const first = await migrateCli(cluster.url);
        assert.equal(first.code, 0, first.output);
        assert.match(first.output, /bootstrap applied/);
        assert.match(first.output, /applied 20261121000005_relay_session_leases\.sql/);
        const second = await migrateCli(cluster.url);
        assert.equal(second.code, 0, second.output);
        assert.match(second.output, /nothing to apply/);
        assert.equal((await schemaStatus(admin)).upToDate, true);
      },
    );

    const { store } = await openPostgresStore({ url: cluster.url });
    try {
      await runStoreContract(t, { store, admin, createsUsers: true });
    } finally {
      await store.close();
    }

    await t.step("database down mid-conversation: every message stored exactly once, in order", async () => {
      const { store } = await openPostgresStore({ url: cluster.url, connectTimeoutSeconds: 3 });
      const queue = new WriteQueue({ baseDelayMs: 20, maxDelayMs: 250 });
      try {
        const userId = await createUser(admin);
        const conversationId = await store.createConversation({ userId, agentId: null, title: "outage" });
        const recorder = new TranscriptRecorder({
          conversationId,
          userId,
          model: "gpt-realtime",
          voice: "marin",
          now: Date.now,
        });
        const expected: Array<[string, string]> = [];
        const converse = (from: number, to: number) => {
          for (let n = from; n <= to; n++) {
            expected.push(["user", `question ${n}`], ["assistant", `answer ${n}`]);
            for (const event of voiceTurnEvents({ n, user: `question ${n}`, assistant: `answer ${n}` })) {
              for (const write of recorder.observe(event)) {
                assert.equal(
                  queue.push(conversationId, () => writeTranscript(store, write), write.kind),
                  true,
                );
              }
            }
          }
        };

        converse(1, 3);
        assert.deepEqual(await queue.flush(10_000), { flushed: true, pending: 0 });

        await cluster.stop("immediate");
        converse(4, 8);
        // Bounded wait until the queue has seen the outage: its writes failed and are being retried.
        for (let i = 0; i < 500 && queue.stats().retries === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        assert.equal(queue.stats().retries > 0, true, "writes should fail while the database is down");
        assert.equal(queue.pending > 0, true);
        converse(9, 10);
        await cluster.start();

        const flushed = await queue.flush(30_000);
        assert.deepEqual(flushed, { flushed: true, pending: 0 });
        const stats = queue.stats();
        assert.equal(stats.failures, 0);
        assert.equal(stats.dropped, 0);
        assert.equal(stats.completed, 20);

        const rows = await admin.query<{ role: string; content: string; item_id: string }>(
          `select role, content, item_id from public.chat_messages_v2
            where conversation_id = $1::uuid order by created_at`,
          [conversationId],
        );
        assert.deepEqual(rows.map((r) => [r.role, r.content]), expected);
        assert.equal(new Set(rows.map((r) => r.item_id)).size, rows.length);
        assert.equal(rows[0].item_id, turnIds(1).userItem);
      } finally {
        queue.close();
        await store.close();
      }
    });

    await t.step("an unreachable database is a transient StorageError", async () => {
      await cluster.stop("fast");
      try {
        await assert.rejects(
          openPostgresStore({ url: cluster.url, connectTimeoutSeconds: 3 }),
          (error: unknown) => error instanceof StorageError && error.transient,
        );
      } finally {
        await cluster.start();
      }
    });
  } finally {
    await admin.close();
    await cluster.destroy();
  }
});
