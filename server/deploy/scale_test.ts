/**
 * Many instances: two Deno relays behind the shipped nginx site (TLS, WebSocket upgrade, least_conn,
 * proxy_next_upstream), sharing one PostgreSQL and the OpenAI simulator. A conversation survives
 * `kill -9` of the instance serving it (the client reconnects through nginx with its conversation_id,
 * lands on the other instance, and the new upstream session is seeded with the earlier turns), and a
 * rolling restart under steady load loses no completed turn.
 */
import assert from "node:assert/strict";
import type { SimulatedConnection } from "../../shared/simulator/realtime_simulator.ts";
import { waitForRows } from "../testing/database_fixture.ts";
import {
  type InstanceSlot,
  numberedScript,
  type RelayCluster,
  startRelayCluster,
} from "./testing/relay_cluster.ts";
import { type CompletedTurn, type SeenItems, speakTurn, speechAudio } from "./testing/voice_turns.ts";
import { type ServerEvent, WssClient, type WssClose } from "./testing/wss_client.ts";

type Message = { role: string; content: string; item_id: string };
const messagesQuery =
  "select role, content, item_id from chat_messages_v2 where conversation_id = $1 order by created_at, role desc";

/** Progress lines when RELAY_TEST_VERBOSE is set (the relays' own logs are printed then too). */
const trace = (...args: unknown[]) => {
  if (Deno.env.get("RELAY_TEST_VERBOSE")) console.log("[scale]", ...args);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The instance id on the `voice_sessions` row of `sessionId` (written when the session starts). */
async function servingInstance(cluster: RelayCluster, sessionId: string): Promise<string> {
  const rows = await waitForRows<{ instance_id: string }>(
    cluster.database.admin,
    "select instance_id from voice_sessions where id = $1",
    [sessionId],
    (r) => r.length === 1,
  );
  assert.equal(rows.length, 1, `no voice_sessions row for session ${sessionId}`);
  return rows[0].instance_id;
}

/** The client events an upstream connection received, in order (types and seeded message texts). */
function upstreamOpening(
  connection: SimulatedConnection,
): Array<{ type: string | null; role?: string; text?: string }> {
  return connection.receivedEvents.map((recorded) => {
    const event = recorded.event as { item?: { role?: string; content?: Array<{ text?: string }> } };
    if (recorded.type !== "conversation.item.create") return { type: recorded.type };
    return { type: recorded.type, role: event.item?.role, text: event.item?.content?.[0]?.text };
  });
}

/**
 * Every completed turn has its user and assistant message stored exactly once, with the transcript the
 * client saw; nothing is stored twice; and every stored message is one of the conversation's own turns
 * (a resumed session's seeded history is not stored again as new messages).
 */
async function assertTurnsStoredOnce(
  cluster: RelayCluster,
  conversationId: string,
  turns: CompletedTurn[],
  seen: SeenItems,
): Promise<Message[]> {
  const expected = turns.length * 2;
  const rows = await waitForRows<Message>(
    cluster.database.admin,
    messagesQuery,
    [conversationId],
    (r) =>
      r.length >= expected &&
      turns.every((t) =>
        r.some((m) => m.item_id === t.userItemId) && r.some((m) => m.item_id === t.assistantItemId)
      ),
  );
  for (const turn of turns) {
    const user = rows.filter((m) => m.item_id === turn.userItemId);
    const assistant = rows.filter((m) => m.item_id === turn.assistantItemId);
    assert.deepEqual(user.map((m) => `${m.role}: ${m.content}`), [`user: ${turn.userTranscript}`]);
    assert.deepEqual(assistant.map((m) => `${m.role}: ${m.content}`), [
      `assistant: ${turn.assistantTranscript}`,
    ]);
  }
  const itemIds = rows.map((m) => m.item_id);
  assert.equal(new Set(itemIds).size, itemIds.length, `a message is stored twice in ${conversationId}`);
  const strangers = rows.filter((m) => !seen.ids.has(m.item_id));
  assert.deepEqual(
    strangers,
    [],
    "stored messages that are none of the conversation's turns (seeded history stored again?)",
  );
  return rows;
}

Deno.test({
  name: "kill -9 of the instance serving a conversation: the client resumes through nginx on the other one",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await startRelayCluster({ script: numberedScript(10) });
    try {
      const ca = cluster.nginx.certificate.pem;
      const token = await cluster.userToken("77777777-0000-4000-8000-000000000001");
      const client = await WssClient.connect(`${cluster.nginx.wssBase}/v1/realtime`, {
        protocols: ["realtime", `jwt-${token}`],
        ca,
      });
      if (!client.opened) {
        assert.fail(`the upgrade through nginx failed: ${JSON.stringify(await client.closed)}`);
      }
      assert.equal(client.protocol, "realtime");
      const notice = await client.waitFor("relay.conversation");
      trace("connected", notice);
      assert.equal(notice.created, true);
      const conversationId = String(notice.conversation_id);
      await client.waitFor("session.created");
      const seen: SeenItems = { ids: new Set() };
      const before: CompletedTurn[] = [];
      for (let i = 0; i < 2; i++) {
        const turn = await speakTurn(client, conversationId, seen);
        assert.ok(turn, `turn ${i + 1} did not complete`);
        before.push(turn);
        trace("turn", turn);
      }
      const servedBy = await servingInstance(cluster, String(notice.session_id));
      const victim = cluster.instances.find((slot) => cluster.instanceId(slot) === servedBy)!;
      const survivor = cluster.instances.find((slot) => slot !== victim)!;
      assert.ok(victim && survivor, `session served by an unknown instance ${servedBy}`);
      // kill -9 loses what is only in the process's memory by definition: the two completed turns count
      // once they are stored; the kill then lands in the middle of a third turn.
      await assertTurnsStoredOnce(cluster, conversationId, before, seen);
      client.send({ type: "input_audio_buffer.append", audio: speechAudio });
      let started = 0;
      await client.waitFor("input_audio_buffer.speech_started", 15_000, () => ++started === 3);
      const upstreamsBefore = cluster.simulator.connections.length;
      trace("killing", servedBy);
      await victim.process!.stop("SIGKILL");
      const cut = await client.closed;
      assert.equal(cut.code, 1006, `nginx drops the client when its instance dies: ${JSON.stringify(cut)}`);

      // Reconnect through nginx, token in the query as older clients send it (and nginx must not log it).
      const again = await WssClient.connect(
        `${cluster.nginx.wssBase}/v1/realtime?conversation_id=${conversationId}&token=${token}`,
        { protocols: ["realtime"], ca },
      );
      if (!again.opened) {
        assert.fail(`the reconnect through nginx failed: ${JSON.stringify(await again.closed)}`);
      }
      const resumed = await again.waitFor("relay.conversation");
      trace("resumed", resumed);
      assert.equal(resumed.conversation_id, conversationId);
      assert.equal(resumed.created, false);
      assert.equal(await servingInstance(cluster, String(resumed.session_id)), cluster.instanceId(survivor));
      await again.waitFor("session.created");

      // The new upstream session got the agent's configuration, then the earlier turns, before anything else.
      const upstream = cluster.simulator.connections.slice(upstreamsBefore).filter((c) => c.refusal === null);
      assert.equal(upstream.length, 1, "one new upstream session for the resumed conversation");
      const stored = await cluster.database.admin.query<Message>(messagesQuery, [conversationId]);
      assert.deepEqual(upstreamOpening(upstream[0]).slice(0, 1 + stored.length), [
        { type: "session.update" },
        ...stored.map((m) => ({ type: "conversation.item.create", role: m.role, text: m.content })),
      ]);
      assert.deepEqual(
        stored.map((m) => m.content),
        ["user says 1", "assistant answers 1", "user says 2", "assistant answers 2"],
      );

      // The conversation goes on, on the survivor.
      const after = await speakTurn(again, conversationId, seen);
      assert.ok(after, "the resumed session completes a turn");
      await again.close();
      const rows = await assertTurnsStoredOnce(cluster, conversationId, [...before, after], seen);
      assert.equal(rows.length, 6, "the killed, unfinished turn left nothing behind");

      const logs = (await cluster.nginx.accessLog()) + (await cluster.nginx.errorLog());
      assert.ok(!logs.includes(token), "nginx logged the token from the query string");
      assert.ok(!logs.includes("conversation_id="), "nginx logged a query string");
      assert.match(await cluster.nginx.accessLog(), /"GET \/v1\/realtime HTTP\/1\.1" 101 /);
    } finally {
      await cluster.close();
    }
  },
});

/** One client of the rolling restart: what it did and saw. */
interface Worker {
  index: number;
  conversationId: string | undefined;
  completed: CompletedTurn[];
  seen: SeenItems;
  sessions: Session[];
  /** Connection attempts that did not get a session (draining instance, nginx 429/502…). */
  refusals: WssClose[];
  /** The socket of the current session (for the failure report). */
  current: WssClient | undefined;
  /** Set when the loop ended; the error if it failed. */
  finished?: { error?: unknown };
}

interface Session {
  /** Every event the session's socket received. */
  events: ServerEvent[];
  sessionId: string;
  created: boolean;
  startedInPhase: Phase;
  draining?: ServerEvent;
  close?: WssClose;
}

type Phase = "steady" | "a-down" | "a-back" | "b-down";

/** True when the last turn event in `events` (up to `end`) leaves an answer under way. */
function answering(events: ServerEvent[], end = events.length): boolean {
  for (let i = end - 1; i >= 0; i--) {
    const type = events[i].type;
    if (type === "response.done") return false;
    if (type === "response.created" || type === "input_audio_buffer.committed") return true;
  }
  return false;
}

/** What each client was doing, printed when the test fails (the relays' logs need RELAY_TEST_VERBOSE). */
function report(workers: Worker[]): string {
  return workers.map((w) => {
    const sessions = w.sessions.map((s) =>
      `${s.startedInPhase}${s.created ? "+" : ""}${s.draining ? " drained" : ""} ${
        s.close ? s.close.code : "open"
      }`
    );
    const tail = w.current?.events.slice(-8).map((e) => e.type).join(" ") ?? "";
    return `client ${w.index}: ${w.completed.length} turns; sessions [${sessions.join(", ")}]; ` +
      `${w.refusals.length} refused; last events: ${tail}`;
  }).join("\n");
}

Deno.test({
  name: "rolling restart under steady load: every completed turn is stored exactly once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await startRelayCluster({
      // Answers stream in real time (600 ms), so a drain can land in the middle of one.
      script: numberedScript(40, 600),
      realtimePacing: true,
      env: {
        DRAIN_SECONDS: "5",
        // Every test client is 127.0.0.1 behind nginx and reconnects several times within a minute;
        // these limits have their own tests (server/limits_test.ts, nginx_test.ts).
        CONNECT_ATTEMPTS_PER_MINUTE_PER_IP: "100000",
        CONNECT_ATTEMPTS_PER_MINUTE_PER_USER: "1000",
      },
    });
    const ca = cluster.nginx.certificate.pem;
    let phase: Phase = "steady";
    let stopping = false;
    const workers: Worker[] = [];

    const run = async (worker: Worker, token: string) => {
      let backoffMs = 100;
      for (let attempt = 0; attempt < 120 && !stopping; attempt++) {
        const query = worker.conversationId ? `?conversation_id=${worker.conversationId}` : "";
        const client = await WssClient.connect(`${cluster.nginx.wssBase}/v1/realtime${query}`, {
          protocols: ["realtime", `jwt-${token}`],
          ca,
        });
        worker.current = client;
        let notice: ServerEvent;
        try {
          if (!client.opened) throw new Error("handshake refused");
          notice = await client.waitFor("relay.conversation", 15_000);
          await client.waitFor("session.created", 15_000);
        } catch {
          worker.refusals.push(await client.close());
          await sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 1000);
          continue;
        }
        backoffMs = 100;
        worker.conversationId ??= String(notice.conversation_id);
        assert.equal(notice.conversation_id, worker.conversationId);
        const session: Session = {
          events: client.events,
          sessionId: String(notice.session_id),
          created: notice.created === true,
          startedInPhase: phase,
        };
        worker.sessions.push(session);
        client.waitFor("relay.draining", 600_000).then((e) => (session.draining = e), () => {});
        // Turns back to back until the relay says it is draining (the turn under way still completes).
        while (!stopping && client.isOpen && !session.draining) {
          const turn = await speakTurn(client, worker.conversationId, worker.seen);
          if (turn) worker.completed.push(turn);
        }
        if (stopping) {
          session.close = await client.close();
          break;
        }
        // Draining: the relay closes the session at its next pause between turns.
        const timer = setTimeout(
          () => client.close(4000, "the relay did not close the drained session"),
          20_000,
        );
        session.close = await client.closed;
        clearTimeout(timer);
        await sleep(Number(session.draining?.retry_after_ms ?? 250));
      }
    };

    /** Waits (bounded) until every worker has completed `more` turns beyond what it had. */
    const progress = async (more: number, label: string) => {
      const marks = workers.map((w) => w.completed.length);
      for (let i = 0; i < 600; i++) {
        if (workers.every((w, j) => w.completed.length >= marks[j] + more)) return;
        const failed = workers.find((w) => w.finished);
        if (failed) {
          throw new Error(`client ${failed.index} stopped during ${label}: ${failed.finished?.error}`);
        }
        await sleep(100);
      }
      throw new Error(`${label}: not every client completed ${more} more turns`);
    };

    /** Waits (bounded) until at least two clients are in the middle of an answer: the moment to SIGTERM. */
    const midAnswer = async () => {
      for (let i = 0; i < 1000; i++) {
        if (workers.filter((w) => w.current && answering(w.current.events)).length >= 2) return;
        await sleep(5);
      }
    };

    const loops: Promise<void>[] = [];
    try {
      try {
        for (let index = 0; index < 6; index++) {
          const token = await cluster.userToken(`88888888-0000-4000-8000-00000000000${index}`);
          const worker: Worker = {
            index,
            conversationId: undefined,
            completed: [],
            seen: { ids: new Set() },
            sessions: [],
            refusals: [],
            current: undefined,
          };
          workers.push(worker);
          loops.push(
            run(worker, token).then(
              () => void (worker.finished = {}),
              (error) => void (worker.finished = { error }),
            ),
          );
        }
        await progress(2, "steady load");
        const [slotA, slotB] = cluster.instances as [InstanceSlot, InstanceSlot];

        await midAnswer();
        phase = "a-down";
        trace("SIGTERM a");
        assert.equal(await slotA.process!.stop("SIGTERM"), 0, "instance a drained and exited 0");
        await progress(2, "after a stopped");
        trace("restarting a");
        await cluster.start(slotA);
        phase = "a-back";

        await progress(1, "a back");
        await midAnswer();
        phase = "b-down";
        trace("SIGTERM b");
        assert.equal(await slotB.process!.stop("SIGTERM"), 0, "instance b drained and exited 0");
        await progress(2, "after b stopped");
      } finally {
        stopping = true;
        await Promise.all(loops);
      }

      let drainedMidAnswer = 0;
      for (const worker of workers) {
        assert.deepEqual(worker.finished, {}, `client ${worker.index} loop failed`);
        assert.ok(worker.conversationId);
        const [first, ...rest] = worker.sessions;
        assert.equal(first.created, true);
        assert.ok(
          rest.length >= 1,
          `client ${worker.index} was moved at least once (it was on b when b stopped)`,
        );
        for (const session of rest) {
          assert.equal(session.created, false, "a reconnect resumes the conversation");
        }
        // Every session but the one the test closed at the end was drained: told first, then closed 1012
        // between turns: an answer under way when the notice came was finished first.
        for (const session of worker.sessions.slice(0, -1)) {
          assert.ok(session.draining, `client ${worker.index}: session ended without relay.draining`);
          assert.equal(typeof session.draining.retry_after_ms, "number");
          assert.equal(session.close?.code, 1012, `client ${worker.index}: drained session closed with 1012`);
          assert.equal(
            answering(session.events),
            false,
            `client ${worker.index}: closed in the middle of an answer`,
          );
          if (answering(session.events, session.events.indexOf(session.draining))) drainedMidAnswer++;
        }
        for (const session of worker.sessions) {
          const instance = await servingInstance(cluster, session.sessionId);
          if (session.startedInPhase === "a-down") {
            assert.equal(instance, "b", "with a down, nginx sends everyone to b");
          }
          if (session.startedInPhase === "b-down") {
            assert.equal(instance, "a-2", "with b down, nginx sends everyone to a");
          }
        }
        await assertTurnsStoredOnce(cluster, worker.conversationId, worker.completed, worker.seen);
        const closes = await cluster.database.admin.query<{ id: string; close_code: number | null }>(
          "select id, close_code from voice_sessions where conversation_id = $1",
          [worker.conversationId],
        );
        for (const session of worker.sessions.slice(0, -1)) {
          assert.equal(closes.find((row) => row.id === session.sessionId)?.close_code, 1012);
        }
      }
      assert.ok(
        drainedMidAnswer >= 1,
        "some drain notice arrived in the middle of an answer (SIGTERM was sent then)",
      );
      // Each resumed session's upstream got the conversation's history right after the session.update.
      const sessions = workers.flatMap((w) => w.sessions);
      const accepted = cluster.simulator.connections.filter((c) => c.refusal === null);
      const seeded = accepted.filter((c) => {
        const opening = upstreamOpening(c);
        return opening[0]?.type === "session.update" && opening[1]?.type === "conversation.item.create";
      });
      assert.equal(accepted.length, sessions.length, "one upstream session per relay session");
      assert.equal(
        seeded.length,
        sessions.filter((s) => !s.created).length,
        "every resumed session, and only those, was seeded",
      );
      const refusals = workers.flatMap((w) => w.refusals);
      console.log(
        `rolling restart: ${
          workers.map((w) => w.completed.length).join("+")
        } turns in ${sessions.length} sessions ` +
          `(${drainedMidAnswer} drained in the middle of an answer, which was finished first); ` +
          `${refusals.length} connection attempts refused on the way (` +
          `${
            [...new Set(refusals.map((r) => r.httpStatus ? `HTTP ${r.httpStatus}` : `${r.code} ${r.reason}`))]
              .join("; ")
          })`,
      );
    } catch (error) {
      console.error(`rolling restart failed; the clients:\n${report(workers)}`);
      throw error;
    } finally {
      await cluster.close();
    }
  },
});
