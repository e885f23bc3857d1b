/**
 * The relay's client and upstream contract, run against a real relay process of each deployment
 * (Deno server, Node fallback, edge entry on current Deno and on Deno 2.1) with real sockets, a real
 * JWKS endpoint and the OpenAI Realtime simulator as upstream.
 *
 * @module
 */
import { startSimulatorServer } from "./simulator_server.ts";
import assert from "node:assert/strict";
import { signHs256Jwt } from "../../shared/auth/jwt.ts";
import {
  generateEs256KeyPair,
  jwksOf,
  signAsymmetricJwt,
  supabaseUserClaims,
} from "../../shared/auth/test_keys.ts";
import { type DatabaseFixture, seedUser, startDatabaseFixture, waitForRows } from "./database_fixture.ts";
import { type RelayKind, type RelayProcess, startRelayProcess } from "./relay_process.ts";
import { TestClient } from "./test_client.ts";

const jwtSecret = "contract-test-secret-0123456789-abcdefghijklmnop";
const openaiKey = "sk-contract-test-key-0123456789abcdef";
const userId = "11111111-2222-4333-8444-555555555555";
const otherUserId = "99999999-2222-4333-8444-555555555555";
const maxConnections = 6;

/** A base64 PCM16 frame of `ms` milliseconds of silence at 24 kHz. */
function silenceFrame(ms: number): string {
  const bytes = new Uint8Array(Math.round(24 * ms) * 2);
  return btoa(String.fromCharCode(...bytes));
}

/** Starts the fixtures (JWKS server, simulator), the relay of `kind`, and runs every contract step. */
export function relayContract(kind: RelayKind): void {
  Deno.test({
    name: `relay contract on ${kind}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const signingKey = await generateEs256KeyPair();
      const database: DatabaseFixture = await startDatabaseFixture(
        kind.startsWith("edge") ? "supabase" : "postgres",
      );
      await seedUser(database.admin, userId);
      await seedUser(database.admin, otherUserId);
      // One origin stands in for the Supabase project: Auth's JWKS and (for supabase-js) PostgREST.
      const jwksServer = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
        const path = new URL(request.url).pathname;
        if (path === "/auth/v1/.well-known/jwks.json") return Response.json(jwksOf(signingKey));
        if (path.startsWith("/rest/v1/") && database.rest) return database.rest(request);
        return new Response("not found", { status: 404 });
      });
      const supabaseUrl = `http://127.0.0.1:${jwksServer.addr.port}`;
      const issuer = `${supabaseUrl}/auth/v1`;
      const { simulator, url: simulatorUrl, close: closeSimulator } = startSimulatorServer({
        apiKeys: [openaiKey],
        script: [{
          userTranscript: "Hello relay",
          assistantTranscript: "Hello from the simulator",
          assistantAudioMs: 600,
        }],
      });
      let relay: RelayProcess | undefined;
      const hs256 = (overrides: Record<string, unknown> = {}) =>
        signHs256Jwt(supabaseUserClaims({ issuer, overrides: { sub: userId, ...overrides } }), jwtSecret);
      try {
        relay = await startRelayProcess(kind, {
          OPENAI_API_KEY: openaiKey,
          OPENAI_REALTIME_URL: simulatorUrl,
          ALLOWED_MODELS: "gpt-realtime-mini",
          SUPABASE_URL: supabaseUrl,
          SUPABASE_JWT_SECRET: jwtSecret,
          MAX_CONNECTIONS: String(maxConnections),
          // The suite connects one user far more often than a person would; the limiter has its own tests.
          CONNECT_ATTEMPTS_PER_MINUTE_PER_USER: "100000",
          MAX_SESSIONS_PER_USER: "100",
          RELAY_DATA_DIR: await Deno.makeTempDir({ prefix: "relay-contract-" }),
          ...database.relayEnv,
        });
        const endpoint = kind.startsWith("edge")
          ? `${relay.wsBase}/v1/realtime`
          : `${relay.wsBase}/v1/realtime`;
        const validToken = await hs256();

        await t.step("health reports the runtime and capacity", async () => {
          const response = await fetch(`${relay!.httpBase}/health`);
          const body = await response.json();
          assert.equal(response.status, 200);
          assert.equal(body.status, "ok");
          assert.equal(body.runtime, kind.startsWith("edge") ? "supabase-edge" : kind);
          assert.equal(body.maxConnections, maxConnections);
          for (const field of ["activeConnections", "uptime", "timestamp", "version"]) {
            assert.ok(field in body, field);
          }
        });

        const carriers: Array<[string, () => Promise<TestClient>]> = [
          [
            "openai-insecure-api-key subprotocol",
            () =>
              TestClient.connect(endpoint, {
                protocols: ["realtime", `openai-insecure-api-key.${validToken}`],
              }),
          ],
          [
            "jwt- subprotocol",
            () => TestClient.connect(endpoint, { protocols: ["realtime", `jwt-${validToken}`] }),
          ],
          [
            "Authorization header",
            () => TestClient.connect(endpoint, { headers: { Authorization: `Bearer ${validToken}` } }),
          ],
          ["?token= query", () => TestClient.connect(`${endpoint}?token=${validToken}`)],
          ["?jwt= query", () => TestClient.connect(`${relay!.wsBase}/?jwt=${validToken}`)],
        ];
        for (const [name, connect] of carriers) {
          await t.step(`accepts the token from the ${name}`, async () => {
            const client = await connect();
            const created = await client.waitFor("session.created");
            assert.equal((created.session as { model: string }).model, "gpt-realtime");
            await client.close();
          });
        }

        await t.step("accepts an ES256 token checked against the project's JWKS", async () => {
          const token = await signAsymmetricJwt(
            supabaseUserClaims({ issuer, overrides: { sub: userId } }),
            signingKey,
          );
          const client = await TestClient.connect(endpoint, { protocols: ["realtime", `jwt-${token}`] });
          await client.waitFor("session.created");
          await client.close();
        });

        await t.step("selects `realtime` and never echoes the token", async () => {
          const browserLike = await TestClient.connect(`${endpoint}?model=gpt-realtime-mini`, {
            protocols: ["realtime", `openai-insecure-api-key.${validToken}`],
          });
          assert.equal(browserLike.protocol, "realtime");
          const created = await browserLike.waitFor("session.created");
          assert.equal((created.session as { model: string }).model, "gpt-realtime-mini");
          const jwtOnly = await TestClient.connect(endpoint, { protocols: [`jwt-${validToken}`] });
          await jwtOnly.waitFor("session.created");
          assert.equal(jwtOnly.protocol, "", "a credential subprotocol must not be selected");
          await browserLike.close();
          await jwtOnly.close();
          if (kind !== "edge-deno-2.1") {
            // npm `ws` joins offered protocols with a bare ","; Deno 2.1's immutable upgrade response
            // cannot answer that form (README, "Deploying").
            const nodeClient = await TestClient.connect(endpoint, {
              protocols: ["realtime", `jwt-${validToken}`],
              headers: { "X-Client": "ws" },
            });
            assert.equal(nodeClient.protocol, "realtime");
            await nodeClient.waitFor("session.created");
            await nodeClient.close();
          }
        });

        await t.step(
          "neither the user's JWT nor a client's OpenAI-Beta header reaches the upstream",
          async () => {
            const before = simulator.connections.length;
            const client = await TestClient.connect(endpoint, {
              headers: { Authorization: `Bearer ${validToken}`, "OpenAI-Beta": "realtime=v1" },
            });
            await client.waitFor("session.created");
            await client.close();
            const upstream = simulator.connections.slice(before);
            assert.equal(upstream.length, 1);
            const seen = JSON.stringify({
              url: upstream[0].url,
              p: upstream[0].offeredProtocols,
              h: upstream[0].headers,
            });
            assert.ok(!seen.includes(validToken.split(".")[2]), "the user's JWT reached the upstream");
            assert.ok(!/openai-beta/i.test(seen), "a beta marker reached the upstream");
            assert.equal(upstream[0].authForm, kind.startsWith("edge") ? "subprotocol" : "header");
          },
        );

        await t.step("a model outside ALLOWED_MODELS falls back to the default", async () => {
          const client = await TestClient.connect(`${endpoint}?model=gpt-4o-realtime-preview`, {
            protocols: ["realtime", `jwt-${validToken}`],
          });
          const created = await client.waitFor("session.created");
          assert.equal((created.session as { model: string }).model, "gpt-realtime");
          await client.close();
        });

        const refusals: Array<[string, () => Promise<string | null>]> = [
          ["missing", () => Promise.resolve(null)],
          [
            "expired",
            () =>
              hs256({ exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 4000 }),
          ],
          ["bad signature", async () => (await hs256()).slice(0, -4) + "AAAA"],
          ["alg none", async () => {
            const [, payload] = (await hs256()).split(".");
            return `${btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "")}.${payload}.`;
          }],
          ["wrong audience", () => hs256({ aud: "anon" })],
          ["wrong issuer", () => hs256({ iss: "https://evil.example/auth/v1" })],
          ["service_role key", () => hs256({ role: "service_role" })],
        ];
        for (const [name, makeToken] of refusals) {
          await t.step(`refuses a ${name} token with 4001 and dials nothing upstream`, async () => {
            const before = simulator.connections.length;
            const token = await makeToken();
            const client = await TestClient.connect(endpoint, {
              protocols: token ? ["realtime", `openai-insecure-api-key.${token}`] : ["realtime"],
            });
            const closed = await client.closed;
            assert.equal(closed.code, 4001);
            assert.equal(closed.reason, "Unauthorized");
            assert.equal(simulator.connections.length, before, "an upstream connection was dialed");
          });
        }

        await t.step("200 frames sent right after open reach the upstream in order", async () => {
          const before = simulator.connections.length;
          const client = await TestClient.connect(endpoint, { protocols: ["realtime", `jwt-${validToken}`] });
          const audio = silenceFrame(20);
          for (let i = 0; i < 200; i++) {
            client.send({ type: "input_audio_buffer.append", event_id: `seq_${i}`, audio });
          }
          client.send({
            type: "conversation.item.create",
            event_id: "marker",
            item: { type: "message", role: "user", content: [{ type: "input_text", text: "done" }] },
          });
          await client.waitFor("conversation.item.added");
          const connection = simulator.connections[before];
          assert.equal(
            connection.receivedEvents[0].type,
            "session.update",
            "the server's session.update goes first",
          );
          const ids = connection.receivedEvents.filter((e) => e.type !== "session.update").map((e) =>
            e.eventId
          );
          assert.deepEqual(ids.slice(0, 200), Array.from({ length: 200 }, (_, i) => `seq_${i}`));
          assert.equal(ids[200], "marker");
          await client.close();
        });

        await t.step(
          "a client binary frame is answered with an error, not forwarded; the session stays up",
          async () => {
            const before = simulator.connections.length;
            const client = await TestClient.connect(endpoint, {
              protocols: ["realtime", `jwt-${validToken}`],
            });
            await client.waitFor("session.created");
            client.send(new Uint8Array([1, 2, 3, 4]));
            const error = await client.waitFor("error");
            assert.equal((error.error as { code: string }).code, "binary_not_supported");
            client.send({ type: "input_audio_buffer.clear" });
            await client.waitFor("input_audio_buffer.cleared");
            assert.equal(simulator.connections[before].receivedBinaryFrames, 0);
            await client.close();
          },
        );

        await t.step("a full turn: transcripts, audio and usage come back through the relay", async () => {
          const client = await TestClient.connect(endpoint, { protocols: ["realtime", `jwt-${validToken}`] });
          await client.waitFor("session.created");
          const pcm = new Int16Array(24 * 800);
          for (let i = 0; i < pcm.length; i++) {
            pcm[i] = Math.round(Math.sin((2 * Math.PI * 440 * i) / 24000) * 8000);
          }
          const bytes = new Uint8Array(pcm.buffer);
          let binary = "";
          for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
          client.send({ type: "input_audio_buffer.append", audio: btoa(binary) });
          client.send({ type: "input_audio_buffer.append", audio: silenceFrame(700) });
          const done = await client.waitFor("response.done");
          assert.equal((done.response as { status: string }).status, "completed");
          const user = await client.waitFor("conversation.item.input_audio_transcription.completed");
          assert.equal(user.transcript, "Hello relay");
          const assistant = await client.waitFor("response.output_audio_transcript.done");
          assert.equal(assistant.transcript, "Hello from the simulator");
          assert.ok(client.events.some((e) => e.type === "response.output_audio.delta"));
          await client.close();
        });

        await t.step("the published agents SDK transport runs a full turn through the relay", async () => {
          const output = await new Deno.Command("node", {
            args: ["server/testing/agents_sdk_turn.mjs", endpoint, validToken],
            cwd: new URL("../../", import.meta.url),
            stdout: "piped",
            stderr: "piped",
          }).output();
          const text = new TextDecoder().decode(output.stdout).trim();
          const result = JSON.parse(text.split("\n").pop()!);
          assert.equal(result.ok, true, `${text}\n${new TextDecoder().decode(output.stderr)}`);
          assert.equal(result.userTranscript, "Hello relay");
          assert.equal(result.assistantTranscript, "Hello from the simulator");
          assert.ok(result.audioBytes > 0);
        });

        const speak = (client: TestClient) => {
          const pcm = new Int16Array(24 * 800);
          for (let i = 0; i < pcm.length; i++) {
            pcm[i] = Math.round(Math.sin((2 * Math.PI * 440 * i) / 24000) * 8000);
          }
          const bytes = new Uint8Array(pcm.buffer);
          let binary = "";
          for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
          client.send({ type: "input_audio_buffer.append", audio: btoa(binary) });
          client.send({ type: "input_audio_buffer.append", audio: silenceFrame(700) });
        };
        let conversationId = "";

        await t.step(
          "a new conversation is announced; both transcripts and the session row are stored",
          async () => {
            const client = await TestClient.connect(endpoint, {
              protocols: ["realtime", `jwt-${validToken}`],
            });
            const notice = await client.waitFor("relay.conversation");
            assert.equal(
              client.events[0].type,
              "relay.conversation",
              "the notice comes before session.created",
            );
            assert.equal(notice.created, true);
            conversationId = notice.conversation_id as string;
            assert.match(conversationId, /^[0-9a-f-]{36}$/);
            await client.waitFor("session.created");
            speak(client);
            await client.waitFor("response.done");
            await client.close();
            type Message = {
              role: string;
              content: string;
              metadata: Record<string, unknown>;
              user_id: string;
            };
            const messages = await waitForRows<Message>(
              database.admin,
              "select role, content, metadata, user_id from chat_messages_v2 where conversation_id = $1 order by created_at",
              [conversationId],
              (rows) => rows.length >= 2,
            );
            assert.deepEqual(messages.map((m) => [m.role, m.content]), [
              ["user", "Hello relay"],
              ["assistant", "Hello from the simulator"],
            ]);
            assert.equal(messages[0].user_id, userId);
            assert.equal(messages[0].metadata.input_method, "realtime_voice");
            assert.equal(messages[1].metadata.model, "gpt-realtime");
            assert.equal(messages[1].metadata.voice, "alloy");
            type SessionRow = {
              runtime: string;
              close_code: number;
              output_audio_tokens: number;
              cost_usd: string;
              ended_at: unknown;
            };
            const [row] = await waitForRows<SessionRow>(
              database.admin,
              "select runtime, close_code, output_audio_tokens, cost_usd, ended_at from voice_sessions where conversation_id = $1",
              [conversationId],
              (rows) => rows.length === 1 && rows[0].ended_at !== null,
            );
            assert.equal(row.runtime, kind.startsWith("edge") ? "supabase-edge" : kind);
            assert.equal(row.close_code, 1000);
            assert.ok(row.output_audio_tokens > 0);
            assert.ok(Number(row.cost_usd) > 0);
          },
        );

        await t.step(
          "conversation_id: the user's own continues; another user's or an unknown one is refused 4003",
          async () => {
            const own = await TestClient.connect(`${endpoint}?conversation_id=${conversationId}`, {
              protocols: ["realtime", `jwt-${validToken}`],
            });
            const notice = await own.waitFor("relay.conversation");
            assert.equal(notice.conversation_id, conversationId);
            assert.equal(notice.created, false);
            await own.close();
            const [{ id: foreign }] = await database.admin.query<{ id: string }>(
              "insert into conversations (user_id, title) values ($1, 'theirs') returning id",
              [otherUserId],
            );
            for (const id of [foreign, crypto.randomUUID(), "not-a-uuid"]) {
              const before = simulator.connections.length;
              const client = await TestClient.connect(`${endpoint}?conversation_id=${id}`, {
                protocols: ["realtime", `jwt-${validToken}`],
              });
              const closed = await client.closed;
              assert.equal(closed.code, 4003, id);
              assert.match(closed.reason, /Conversation not found/);
              assert.equal(simulator.connections.length, before);
            }
            const foreignMessages = await database.admin.query(
              "select 1 from chat_messages_v2 where conversation_id = $1",
              [foreign],
            );
            assert.equal(foreignMessages.length, 0);
          },
        );

        await t.step(
          "agent_id: the agent's settings go upstream first; another user's private agent is refused 4003",
          async () => {
            const insertAgent = async (owner: string, isPublic: boolean, instructions: string) =>
              (await database.admin.query<{ id: string }>(
                "insert into agents (owner_id, name, instructions, voice, is_public) values ($1, 'a', $2, 'coral', $3) returning id",
                [owner, instructions, isPublic],
              ))[0].id;
            const own = await insertAgent(userId, false, "You are Ada, the user's own agent.");
            const foreignPublic = await insertAgent(otherUserId, true, "You are a public agent.");
            const foreignPrivate = await insertAgent(otherUserId, false, "Private.");
            for (
              const [agentId, instructions] of [[own, "You are Ada, the user's own agent."], [
                foreignPublic,
                "You are a public agent.",
              ]]
            ) {
              const before = simulator.connections.length;
              const client = await TestClient.connect(`${endpoint}?agent_id=${agentId}`, {
                protocols: ["realtime", `jwt-${validToken}`],
              });
              await client.waitFor("session.updated");
              const first = simulator.connections[before].receivedEvents[0];
              assert.equal(first.type, "session.update");
              const session =
                (first.event as { session: { instructions: string; audio: { output: { voice: string } } } })
                  .session;
              assert.equal(session.instructions, instructions);
              assert.equal(session.audio.output.voice, "coral");
              await client.close();
            }
            for (const agentId of [foreignPrivate, crypto.randomUUID()]) {
              const client = await TestClient.connect(`${endpoint}?agent_id=${agentId}`, {
                protocols: ["realtime", `jwt-${validToken}`],
              });
              const closed = await client.closed;
              assert.equal(closed.code, 4003);
              assert.match(closed.reason, /Agent not found/);
            }
          },
        );

        await t.step("client close closes the upstream", async () => {
          const before = simulator.connections.length;
          const client = await TestClient.connect(endpoint, { protocols: ["realtime", `jwt-${validToken}`] });
          await client.waitFor("session.created");
          await client.close(1000, "bye");
          const connection = simulator.connections[before];
          for (let i = 0; i < 100 && !connection.closed; i++) await new Promise((r) => setTimeout(r, 20));
          assert.equal(connection.closed?.by, "client");
        });

        await t.step("upstream session_expired reaches the client as such", async () => {
          simulator.settings.sessionMaxSeconds = 0.3;
          try {
            const client = await TestClient.connect(endpoint, {
              protocols: ["realtime", `jwt-${validToken}`],
            });
            const error = await client.waitFor("error");
            assert.equal((error.error as { code: string }).code, "session_expired");
            const closed = await client.closed;
            assert.equal(closed.code, 1001);
            assert.match(closed.reason, /session_expired/);
          } finally {
            simulator.settings.sessionMaxSeconds = 3600;
          }
        });

        await t.step(
          `MAX_CONNECTIONS=${maxConnections} is enforced with 1013 and /health says full`,
          async () => {
            const clients: TestClient[] = [];
            for (let i = 0; i < maxConnections; i++) {
              const client = await TestClient.connect(endpoint, {
                protocols: ["realtime", `jwt-${validToken}`],
              });
              await client.waitFor("session.created");
              clients.push(client);
            }
            const health = await fetch(`${relay!.httpBase}/health`);
            assert.equal(health.status, 503);
            assert.equal((await health.json()).status, "full");
            const extra = await TestClient.connect(endpoint, {
              protocols: ["realtime", `jwt-${validToken}`],
            });
            const closed = await extra.closed;
            assert.equal(closed.code, 1013);
            assert.match(closed.reason, /capacity/);
            await Promise.all(clients.map((c) => c.close()));
            for (let i = 0; i < 100; i++) {
              if ((await (await fetch(`${relay!.httpBase}/health`)).json()).activeConnections === 0) break;
              await new Promise((r) => setTimeout(r, 20));
            }
          },
        );

        await t.step("metrics count sessions, auth failures and traffic", async () => {
          const text = await (await fetch(`${relay!.httpBase}/metrics`)).text();
          assert.match(text, /relay_auth_failures_total\{reason="missing"\} 1/);
          assert.match(text, /relay_auth_failures_total\{reason="bad_signature"\} \d+/);
          assert.match(text, /relay_connections_refused_total\{reason="capacity"\} 1/);
          assert.match(text, /relay_sessions_closed_total\{code="1000"\} \d+/);
          assert.match(text, /relay_frames_to_upstream_total [1-9]\d*/);
          assert.match(text, /relay_bytes_to_client_total [1-9]\d*/);
          assert.match(text, /relay_upstream_dial_seconds_count [1-9]\d*/);
          assert.match(text, /relay_queue_drops_total/);
        });

        await t.step("upstream unreachable: an error event, then 1011", async () => {
          await closeSimulator();
          const client = await TestClient.connect(endpoint, { protocols: ["realtime", `jwt-${validToken}`] });
          const error = await client.waitFor("error");
          assert.equal((error.error as { code: string }).code, "upstream_unavailable");
          const closed = await client.closed;
          assert.equal(closed.code, 1011);
        });

        await t.step("logs are JSON lines and never carry the JWT or the OpenAI key", () => {
          const lines = relay!.logs.filter((l) => l.trim().startsWith("{"));
          assert.ok(lines.length > 10);
          for (const line of relay!.logs) {
            assert.ok(!line.includes(validToken.split(".")[2]), `JWT in log: ${line}`);
            assert.ok(!line.includes(openaiKey), `OpenAI key in log: ${line}`);
            assert.ok(!line.includes(jwtSecret), `JWT secret in log: ${line}`);
          }
          assert.ok(
            lines.some((l) => l.includes('"event":"auth_failed"') && l.includes('"reason":"expired"')),
          );
          assert.ok(
            lines.some((l) => l.includes('"event":"session_closed"') && l.includes('"bytesToUpstream"')),
          );
        });
      } finally {
        if (relay) await relay.stop();
        await closeSimulator();
        await jwksServer.shutdown();
        await database.close();
      }
    },
  });
}
