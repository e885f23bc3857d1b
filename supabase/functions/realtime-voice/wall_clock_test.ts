/**
 * The edge entry knows the platform's wall clock: before it runs out the client is told to move
 * (`relay.session_ending`, reason `edge_wall_clock`) and the session ends at a pause, its transcripts
 * stored. Run on the current Deno and on Supabase's hosted Deno 2.1.
 */
import { startSimulatorServer } from "../../../server/testing/simulator_server.ts";
import assert from "node:assert/strict";
import { signHs256Jwt } from "../../../shared/auth/jwt.ts";
import { supabaseUserClaims } from "../../../shared/auth/test_keys.ts";
import { seedUser, startDatabaseFixture, waitForRows } from "../../../server/testing/database_fixture.ts";
import { startRelayProcess } from "../../../server/testing/relay_process.ts";
import { TestClient } from "../../../server/testing/test_client.ts";
import { numberedScript, speakTurn } from "../../../server/testing/voice_turns.ts";

const jwtSecret = "edge-wall-clock-secret-0123456789-abcdefghij";
const openaiKey = "sk-edge-wall-clock-0123456789";
const userId = "88888888-0000-4000-8000-000000000001";

for (const kind of ["edge", "edge-deno-2.1"] as const) {
  Deno.test({
    name: `${kind}: the client is told to move before the wall clock, and the session ends between turns`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const database = await startDatabaseFixture("supabase");
      await seedUser(database.admin, userId);
      const project = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen() {} },
        (request) => database.rest!(request),
      );
      const { url: simulatorUrl, close: closeSimulator } = startSimulatorServer({
        apiKeys: [openaiKey],
        script: numberedScript(2),
      });
      const relay = await startRelayProcess(kind, {
        OPENAI_API_KEY: openaiKey,
        OPENAI_REALTIME_URL: simulatorUrl,
        SUPABASE_URL: `http://127.0.0.1:${project.addr.port}`,
        SUPABASE_JWT_SECRET: jwtSecret,
        EDGE_WALL_CLOCK_SECONDS: "14",
        SESSION_WARNING_SECONDS: "2",
        ...database.relayEnv,
      });
      try {
        const token = await signHs256Jwt(
          supabaseUserClaims({
            issuer: `http://127.0.0.1:${project.addr.port}/auth/v1`,
            overrides: { sub: userId },
          }),
          jwtSecret,
        );
        const started = Date.now();
        const client = await TestClient.connect(`${relay.wsBase}/v1/realtime`, {
          protocols: ["realtime", `jwt-${token}`],
        });
        const conversationId = (await client.waitFor("relay.conversation")).conversation_id as string;
        await speakTurn(client, 1);
        const notice = await client.waitFor("relay.session_ending", 15_000);
        assert.equal(notice.reason, "edge_wall_clock");
        assert.equal(notice.retry, true);
        const closed = await client.closed;
        const lasted = Date.now() - started;
        assert.equal(closed.code, 1000);
        assert.match(closed.reason, /Session time limit reached/);
        assert.ok(lasted < 14_000, `ended before the platform's wall clock (${lasted} ms)`);
        const rows = await waitForRows<{ role: string }>(
          database.admin,
          "select role from chat_messages_v2 where conversation_id = $1 order by created_at",
          [conversationId],
          (r) => r.length >= 2,
        );
        assert.deepEqual(rows.map((r) => r.role), ["user", "assistant"]);
      } finally {
        await relay.stop();
        await closeSimulator();
        await project.shutdown();
        await database.close();
      }
    },
  });
}
