/**
 * Continuity on real relay processes: a conversation resumed with its earlier turns after a reconnect,
 * and a drain that lets every session finish its turn before it is moved (1012).
 */
import { startSimulatorServer } from "./testing/simulator_server.ts";
import assert from "node:assert/strict";
import { signHs256Jwt } from "../shared/auth/jwt.ts";
import { supabaseUserClaims } from "../shared/auth/test_keys.ts";
import { seedUser, startDatabaseFixture, waitForRows } from "./testing/database_fixture.ts";
import { startRelayProcess } from "./testing/relay_process.ts";
import { TestClient } from "./testing/test_client.ts";
import { numberedScript, speakTurn } from "./testing/voice_turns.ts";

const jwtSecret = "continuity-test-secret-0123456789-abcdefghij";
const openaiKey = "sk-continuity-test-0123456789";
const userId = "77777777-0000-4000-8000-000000000001";

const script = numberedScript(6);

Deno.test({
  name: "resume: a reconnect with conversation_id seeds the new upstream session with the earlier turns",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const database = await startDatabaseFixture("postgres");
    await seedUser(database.admin, userId);
    const { simulator, url: simulatorUrl, close: closeSimulator } = startSimulatorServer({
      apiKeys: [openaiKey],
      script,
    });
    const relay = await startRelayProcess("deno", {
      OPENAI_API_KEY: openaiKey,
      OPENAI_REALTIME_URL: simulatorUrl,
      SUPABASE_JWT_SECRET: jwtSecret,
      RELAY_DATA_DIR: await Deno.makeTempDir(),
      ...database.relayEnv,
    });
    try {
      const protocols = [
        "realtime",
        `jwt-${await signHs256Jwt(supabaseUserClaims({ overrides: { sub: userId } }), jwtSecret)}`,
      ];
      const first = await TestClient.connect(`${relay.wsBase}/v1/realtime`, { protocols });
      const conversationId = (await first.waitFor("relay.conversation")).conversation_id as string;
      await speakTurn(first, 1);
      await speakTurn(first, 2);
      await first.close();
      const messages =
        "select role, content from chat_messages_v2 where conversation_id = $1 order by created_at";
      await waitForRows(database.admin, messages, [conversationId], (rows) => rows.length === 4);

      const before = simulator.connections.length;
      const second = await TestClient.connect(
        `${relay.wsBase}/v1/realtime?conversation_id=${conversationId}`,
        { protocols },
      );
      const notice = await second.waitFor("relay.conversation");
      assert.equal(notice.created, false);
      assert.equal(notice.resumed_turns, 4);
      await second.waitFor("session.created");
      await speakTurn(second, 1);
      const record = simulator.connections[before];
      const seeded = record.receivedEvents.filter((e) => e.type === "conversation.item.create").map((e) => {
        const item = (e.event as { item: { role: string; content: Array<{ text: string }> } }).item;
        return `${item.role}: ${item.content[0].text}`;
      });
      assert.deepEqual(seeded, [
        "user: user turn 1",
        "assistant: assistant turn 1",
        "user: user turn 2",
        "assistant: assistant turn 2",
      ]);
      assert.equal(
        record.receivedEvents[0].type,
        "session.update",
        "the agent's configuration first, then the history",
      );
      await second.close();
      const rows = await waitForRows<{ role: string; session: string }>(
        database.admin,
        "select role, metadata->>'session_id' as session from chat_messages_v2 where conversation_id = $1 order by created_at",
        [conversationId],
        (r) => r.length >= 6,
      );
      // The simulator's script starts over on each connection, so the texts repeat; the sessions tell
      // the turns apart: four from the first session, then only the new turn, not the seeded history.
      const firstSession = (first.events.find((e) => e.type === "relay.conversation")!.session_id) as string;
      assert.deepEqual(
        rows.map((r) =>
          `${r.role}@${
            r.session === firstSession ? "first" : r.session === notice.session_id ? "second" : r.session
          }`
        ),
        [
          "user@first",
          "assistant@first",
          "user@first",
          "assistant@first",
          "user@second",
          "assistant@second",
        ],
        "the seeded turns are not stored again",
      );
    } finally {
      await relay.stop();
      await closeSimulator();
      await database.close();
    }
  },
});

Deno.test({
  name:
    "drain: SIGTERM tells clients, /health says draining, each session ends between turns with 1012, exit 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const database = await startDatabaseFixture("postgres");
    await seedUser(database.admin, userId);
    const { url: simulatorUrl, close: closeSimulator } = startSimulatorServer({
      apiKeys: [openaiKey],
      realtimePacing: true,
      script: [{
        userTranscript: "long question",
        assistantTranscript: "a long answer",
        assistantAudioMs: 1500,
      }],
    });
    for (const kind of ["deno", "node"] as const) {
      const relay = await startRelayProcess(kind, {
        OPENAI_API_KEY: openaiKey,
        OPENAI_REALTIME_URL: simulatorUrl,
        SUPABASE_JWT_SECRET: jwtSecret,
        RELAY_DATA_DIR: await Deno.makeTempDir(),
        DRAIN_SECONDS: "10",
        ...database.relayEnv,
      });
      let stopped = false;
      try {
        const protocols = [
          "realtime",
          `jwt-${await signHs256Jwt(supabaseUserClaims({ overrides: { sub: userId } }), jwtSecret)}`,
        ];
        const idle = await TestClient.connect(`${relay.wsBase}/v1/realtime`, { protocols });
        await idle.waitFor("session.created");
        const talking = await TestClient.connect(`${relay.wsBase}/v1/realtime`, { protocols });
        await talking.waitFor("session.created");
        talking.send({ type: "response.create" });
        await talking.waitFor("response.output_audio.delta");
        const exit = relay.stop("SIGTERM");
        stopped = true;
        await idle.waitFor("relay.draining");
        const health = await fetch(`${relay.httpBase}/health`);
        assert.equal(health.status, 503);
        assert.equal((await health.json()).status, "draining");
        assert.equal((await idle.closed).code, 1012);
        await talking.waitFor("relay.draining");
        const closed = await talking.closed;
        assert.equal(closed.code, 1012);
        const types = talking.events.map((e) => e.type);
        assert.ok(types.includes("response.done"), `${kind}: the answer finished before the move`);
        assert.ok(
          types.indexOf("relay.draining") < types.lastIndexOf("response.output_audio.delta"),
          "notice came mid-answer",
        );
        assert.equal(await exit, 0);
      } finally {
        if (!stopped) await relay.stop();
      }
    }
    await closeSimulator();
    await database.close();
  },
});
