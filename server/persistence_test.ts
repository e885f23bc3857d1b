/**
 * Nothing lost: transcripts survive a database outage mid-conversation, a SIGTERM mid-turn, and a
 * restart of the zero-config relay. Real relay processes, a real PostgreSQL, real sockets.
 */
import { startSimulatorServer } from "./testing/simulator_server.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { signHs256Jwt } from "../shared/auth/jwt.ts";
import { supabaseUserClaims } from "../shared/auth/test_keys.ts";
import { openPgliteStore } from "./storage/pglite_store.ts";
import { seedUser, startDatabaseFixture, waitForRows } from "./testing/database_fixture.ts";
import { startRelayProcess } from "./testing/relay_process.ts";
import { TestClient } from "./testing/test_client.ts";
import { numberedScript, speakTurn, speechAudio } from "./testing/voice_turns.ts";
import { mintLocalToken } from "./token.ts";

const jwtSecret = "persistence-test-secret-0123456789-abcdefghij";
const openaiKey = "sk-persistence-test-0123456789";
const userId = "22222222-2222-4333-8444-555555555555";

type Message = { role: string; content: string };
const messagesQuery =
  "select role, content from chat_messages_v2 where conversation_id = $1 order by created_at";

Deno.test({
  name: "the database goes down mid-conversation: every transcript lands once and in order when it is back",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const database = await startDatabaseFixture("postgres");
    await seedUser(database.admin, userId);
    const { url: simulatorUrl, close: closeSimulator } = startSimulatorServer({
      apiKeys: [openaiKey],
      script: numberedScript(4),
    });
    const relay = await startRelayProcess("deno", {
      OPENAI_API_KEY: openaiKey,
      OPENAI_REALTIME_URL: simulatorUrl,
      SUPABASE_JWT_SECRET: jwtSecret,
      RELAY_DATA_DIR: await Deno.makeTempDir(),
      ...database.relayEnv,
    });
    try {
      const token = await signHs256Jwt(supabaseUserClaims({ overrides: { sub: userId } }), jwtSecret);
      const client = await TestClient.connect(`${relay.wsBase}/v1/realtime`, {
        protocols: ["realtime", `jwt-${token}`],
      });
      const conversationId = (await client.waitFor("relay.conversation")).conversation_id as string;
      await speakTurn(client, 1);
      await speakTurn(client, 2);
      await waitForRows<Message>(
        database.admin,
        messagesQuery,
        [conversationId],
        (rows) => rows.length === 4,
      );
      await database.cluster!.stop("immediate");
      await speakTurn(client, 3);
      await speakTurn(client, 4);
      await client.close();
      const metrics = await (await fetch(`${relay.httpBase}/metrics`)).text();
      assert.match(
        metrics,
        /relay_storage_pending_writes [1-9]/,
        "writes wait in the queue while the database is down",
      );
      await database.cluster!.start();
      const rows = await waitForRows<Message>(
        database.admin,
        messagesQuery,
        [conversationId],
        (r) => r.length >= 8,
      );
      assert.deepEqual(rows.map((m) => `${m.role}: ${m.content}`), [
        "user: user turn 1",
        "assistant: assistant turn 1",
        "user: user turn 2",
        "assistant: assistant turn 2",
        "user: user turn 3",
        "assistant: assistant turn 3",
        "user: user turn 4",
        "assistant: assistant turn 4",
      ]);
      const [session] = await waitForRows<{ close_code: number }>(
        database.admin,
        "select close_code from voice_sessions where conversation_id = $1 and ended_at is not null",
        [conversationId],
        (r) => r.length === 1,
      );
      assert.equal(session.close_code, 1000);
      assert.ok(relay.logs.some((l) => l.includes('"event":"storage_retry"')));
    } finally {
      await relay.stop();
      await closeSimulator();
      await database.close();
    }
  },
});

Deno.test({
  name: "SIGTERM mid-turn: every completed turn is stored, the session row is closed with 1012, exit 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const database = await startDatabaseFixture("postgres");
    await seedUser(database.admin, userId);
    const { url: simulatorUrl, close: closeSimulator } = startSimulatorServer({
      apiKeys: [openaiKey],
      script: numberedScript(3),
    });
    for (const kind of ["deno", "node"] as const) {
      const relay = await startRelayProcess(kind, {
        DRAIN_SECONDS: "1",
        OPENAI_API_KEY: openaiKey,
        OPENAI_REALTIME_URL: simulatorUrl,
        SUPABASE_JWT_SECRET: jwtSecret,
        RELAY_DATA_DIR: await Deno.makeTempDir(),
        ...database.relayEnv,
      });
      let stopped = false;
      try {
        const token = await signHs256Jwt(supabaseUserClaims({ overrides: { sub: userId } }), jwtSecret);
        const client = await TestClient.connect(`${relay.wsBase}/v1/realtime`, {
          protocols: ["realtime", `jwt-${token}`],
        });
        const conversationId = (await client.waitFor("relay.conversation")).conversation_id as string;
        await speakTurn(client, 1);
        await speakTurn(client, 2);
        client.send({ type: "input_audio_buffer.append", audio: speechAudio });
        await client.waitFor(
          "input_audio_buffer.speech_started",
          15_000,
          () => client.events.filter((e) => e.type === "input_audio_buffer.speech_started").length >= 3,
        );
        const code = await relay.stop("SIGTERM");
        stopped = true;
        assert.equal(code, 0, `${kind} exit code`);
        const closed = await client.closed;
        assert.equal(closed.code, 1012);
        const rows = await database.admin.query<Message>(messagesQuery, [conversationId]);
        assert.deepEqual(rows.map((m) => `${m.role}: ${m.content}`), [
          "user: user turn 1",
          "assistant: assistant turn 1",
          "user: user turn 2",
          "assistant: assistant turn 2",
        ], `${kind}: stored before exit`);
        const sessions = await database.admin.query<{ close_code: number }>(
          "select close_code from voice_sessions where conversation_id = $1 and ended_at is not null",
          [conversationId],
        );
        assert.deepEqual(sessions.map((s) => s.close_code), [1012]);
      } finally {
        if (!stopped) await relay.stop();
      }
    }
    await closeSimulator();
    await database.close();
  },
});

Deno.test({
  name: "zero configuration: the relay keeps conversations across restarts in its data directory (PGlite)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "relay-zero-config-" });
    const env = { RELAY_DATA_DIR: dataDir };
    const token = await mintLocalToken(env);
    let conversationId = "";
    for (const round of [1, 2]) {
      const relay = await startRelayProcess("deno", env);
      try {
        assert.ok(
          relay.logs.some((l) => l.includes('"event":"SIMULATED_UPSTREAM"')),
          "says loudly it is simulated",
        );
        const url = `${relay.wsBase}/v1/realtime${round === 2 ? `?conversation_id=${conversationId}` : ""}`;
        const client = await TestClient.connect(url, {
          protocols: ["realtime", `openai-insecure-api-key.${token}`],
        });
        const notice = await client.waitFor("relay.conversation");
        if (round === 1) conversationId = notice.conversation_id as string;
        assert.equal(notice.created, round === 1);
        await speakTurn(client, 1);
        await client.close();
      } finally {
        assert.equal(await relay.stop("SIGTERM"), 0);
      }
    }
    const { store } = await openPgliteStore({ dataDir: join(dataDir, "pglite") });
    try {
      const rows = await store.db.query<Message>(messagesQuery, [conversationId]);
      assert.equal(rows.length, 4);
      assert.deepEqual(rows.map((r) => r.role), ["user", "assistant", "user", "assistant"]);
    } finally {
      await store.close();
    }
  },
});
