/**
 * Per-user limits against real relay processes sharing one PostgreSQL: concurrent sessions across
 * instances (and a crashed instance's leases expiring), the daily quota at connect and mid-session,
 * the session length cap with its warning, allowed origins, and connection attempts.
 */
import { startSimulatorServer } from "./testing/simulator_server.ts";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { signHs256Jwt } from "../shared/auth/jwt.ts";
import { supabaseUserClaims } from "../shared/auth/test_keys.ts";
import { seedUser, startDatabaseFixture } from "./testing/database_fixture.ts";
import { startRelayProcess } from "./testing/relay_process.ts";
import { TestClient } from "./testing/test_client.ts";

const jwtSecret = "limits-test-secret-0123456789-abcdefghijklmn";
const openaiKey = "sk-limits-test-0123456789";

Deno.test({
  name: "per-user limits hold across instances, quotas and session caps end sessions cleanly",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const database = await startDatabaseFixture("postgres");
    const { url: simulatorUrl, close: closeSimulator } = startSimulatorServer({
      apiKeys: [openaiKey],
      script: [{ userTranscript: "hi", assistantTranscript: "a long answer", assistantAudioMs: 3000 }],
    });
    const baseEnv = {
      OPENAI_API_KEY: openaiKey,
      OPENAI_REALTIME_URL: simulatorUrl,
      SUPABASE_JWT_SECRET: jwtSecret,
      ...database.relayEnv,
    };
    const token = (sub: string) => signHs256Jwt(supabaseUserClaims({ overrides: { sub } }), jwtSecret);
    const relays: Array<{ stop: (s?: Deno.Signal) => Promise<number> }> = [];
    try {
      await t.step(
        "MAX_SESSIONS_PER_USER holds across two instances; a killed instance's leases expire",
        async () => {
          const user = "66666666-0000-4000-8000-000000000001";
          await seedUser(database.admin, user);
          const leaseEnv = { ...baseEnv, MAX_SESSIONS_PER_USER: "2", SESSION_LEASE_SECONDS: "2" };
          const a = await startRelayProcess("deno", {
            ...leaseEnv,
            RELAY_DATA_DIR: await Deno.makeTempDir(),
            RELAY_INSTANCE_ID: "a",
          });
          relays.push(a);
          const b = await startRelayProcess("node", {
            ...leaseEnv,
            RELAY_DATA_DIR: await Deno.makeTempDir(),
            RELAY_INSTANCE_ID: "b",
          });
          relays.push(b);
          const protocols = ["realtime", `jwt-${await token(user)}`];
          const onA = await TestClient.connect(`${a.wsBase}/v1/realtime`, { protocols });
          await onA.waitFor("session.created");
          const onB = await TestClient.connect(`${b.wsBase}/v1/realtime`, { protocols });
          await onB.waitFor("session.created");
          const third = await TestClient.connect(`${a.wsBase}/v1/realtime`, { protocols });
          const refused = await third.closed;
          assert.equal(refused.code, 4029);
          assert.match(refused.reason, /Too many concurrent sessions \(2 allowed\)/);
          await b.stop("SIGKILL");
          let replacement: TestClient | undefined;
          for (let i = 0; i < 40 && !replacement; i++) {
            await new Promise((r) => setTimeout(r, 250));
            const attempt = await TestClient.connect(`${a.wsBase}/v1/realtime`, { protocols });
            try {
              await attempt.waitFor("session.created", 5000);
              replacement = attempt;
            } catch {
              assert.equal((await attempt.closed).code, 4029);
            }
          }
          assert.ok(replacement, "the crashed instance's lease expired and freed its slot");
          await replacement.close();
          await onA.close();
          await a.stop();
        },
      );

      const c = await startRelayProcess("deno", {
        ...baseEnv,
        RELAY_DATA_DIR: await Deno.makeTempDir(),
        MAX_SESSION_SECONDS: "3",
        SESSION_WARNING_SECONDS: "2",
        ALLOWED_ORIGINS: "https://app.example",
        CONNECT_ATTEMPTS_PER_MINUTE_PER_USER: "12",
      });
      relays.push(c);
      const endpoint = `${c.wsBase}/v1/realtime`;

      await t.step(
        "a user's daily USD quota ends the session mid-way with a warning, then refuses at connect",
        async () => {
          const user = "66666666-0000-4000-8000-000000000002";
          await seedUser(database.admin, user);
          await database.admin.query(
            "insert into relay_user_limits (user_id, daily_usd) values ($1, 0.0001)",
            [user],
          );
          const protocols = ["realtime", `jwt-${await token(user)}`];
          const client = await TestClient.connect(endpoint, { protocols });
          await client.waitFor("session.created");
          client.send({ type: "response.create" });
          const notice = await client.waitFor("relay.quota_exhausted");
          assert.equal(notice.reason, "daily_usd");
          const closed = await client.closed;
          assert.equal(closed.code, 4029);
          let refused = { code: 0, reason: "" };
          for (let i = 0; i < 40 && refused.code !== 4029; i++) {
            await new Promise((r) => setTimeout(r, 100));
            const again = await TestClient.connect(endpoint, { protocols });
            refused = await Promise.race([
              again.closed,
              again.waitFor("session.created").then(() => again.close()),
            ]);
          }
          assert.equal(refused.code, 4029);
          assert.match(refused.reason, /quota/);
        },
      );

      await t.step(
        "MAX_SESSION_SECONDS: a warning before the end, then a clean close with the reason",
        async () => {
          const user = "66666666-0000-4000-8000-000000000003";
          const client = await TestClient.connect(endpoint, {
            protocols: ["realtime", `jwt-${await token(user)}`],
          });
          const warning = await client.waitFor("relay.session_ending", 5000);
          assert.equal(warning.reason, "max_session_seconds");
          assert.equal(warning.retry, true);
          const closed = await client.closed;
          assert.equal(closed.code, 1000);
          assert.match(closed.reason, /Session time limit reached \(3 s\)/);
        },
      );

      await t.step("ALLOWED_ORIGINS refuses other browser origins with 1008", async () => {
        const jwt = await token("66666666-0000-4000-8000-000000000004");
        const connect = (origin: string) =>
          new Promise<number>((resolve) => {
            const ws = new WebSocket(endpoint, ["realtime", `jwt-${jwt}`], { origin });
            ws.on("close", (code) => resolve(code));
            ws.on("message", (data) => {
              if (String(data).includes("session.created")) ws.close(1000);
            });
            ws.on("error", () => {});
          });
        assert.equal(await connect("https://evil.example"), 1008);
        assert.equal(await connect("https://app.example"), 1000);
      });

      await t.step("connection attempts per user are bounded (4029)", async () => {
        const protocols = ["realtime", `jwt-${await token("66666666-0000-4000-8000-000000000005")}`];
        const codes: number[] = [];
        for (let i = 0; i < 14; i++) {
          const client = await TestClient.connect(endpoint, { protocols });
          codes.push(
            await Promise.race([
              client.closed.then((c) => c.code),
              client.waitFor("session.created").then(() => client.close()).then((c) => c.code),
            ]),
          );
        }
        assert.deepEqual(codes.slice(0, 12), Array(12).fill(1000));
        assert.deepEqual(codes.slice(12), [4029, 4029]);
      });
    } finally {
      for (const relay of relays) await relay.stop().catch(() => 0);
      await closeSimulator();
      await database.close();
    }
  },
});
