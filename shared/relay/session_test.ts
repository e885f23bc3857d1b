import assert from "node:assert/strict";
import type { DialRequest, FrameData, RelaySocket, RuntimeAdapter, SocketHandlers } from "../adapter.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../observability/log.ts";
import { createRelayMetrics } from "../observability/relay_metrics.ts";
import { clientCodeForUpstreamClose } from "./close_codes.ts";
import { RelaySession } from "./session.ts";

// Policy tests with in-memory sockets: buffered amounts and dead peers are set directly, which real
// loopback sockets cannot do deterministically. The socket plumbing itself is covered by the contract
// tests against real relay processes.

class FakeSocket implements RelaySocket {
  sent: FrameData[] = [];
  closedWith: { code: number; reason: string } | undefined;
  bufferedAmount = 0;
  pings = 0;
  canPing = true;
  constructor(private readonly handlers?: SocketHandlers) {}
  get isOpen() {
    return !this.closedWith;
  }
  send(data: FrameData) {
    this.sent.push(data);
  }
  close(code: number, reason: string) {
    if (this.closedWith) return;
    this.closedWith = { code, reason };
    queueMicrotask(() => this.handlers?.onClose(code, reason));
  }
  ping() {
    if (this.canPing) this.pings++;
    return this.canPing;
  }
  sentEvents() {
    return this.sent.filter((d): d is string => typeof d === "string").map((d) => JSON.parse(d));
  }
}

function harness(env: Record<string, string> = {}) {
  const logLines: string[] = [];
  const config = loadConfig({ UPSTREAM_DIAL_TIMEOUT_SECONDS: "5", ...env });
  let upstreamHandlers: SocketHandlers | undefined;
  let dialed: DialRequest | undefined;
  const adapter: RuntimeAdapter = {
    runtime: "deno",
    upstreamAuth: "header",
    upgradeWebSocket: () => new Response(null),
    dialWebSocket(request, handlers) {
      dialed = request;
      upstreamHandlers = handlers;
    },
    keepAlive() {},
    now: Date.now,
  };
  const metrics = createRelayMetrics(() => 0);
  const log = createLogger({ level: "debug", secrets: [], write: (l) => logLines.push(l) });
  const session = new RelaySession(
    {
      sessionId: "s1",
      userId: "u1",
      carrier: "subprotocol",
      model: "gpt-realtime",
      clientAddress: undefined,
      agentId: null,
      conversationId: "c1",
      voice: "alloy",
    },
    { url: "ws://upstream/v1/realtime?model=gpt-realtime", protocols: [], headers: {} },
    { config, adapter, log, metrics },
  );
  const client = new FakeSocket(session.clientHandlers);
  session.clientHandlers.onOpen(client, "realtime");
  session.start();
  const openUpstream = () => {
    const upstream = new FakeSocket(upstreamHandlers);
    upstreamHandlers!.onOpen(upstream, "");
    return upstream;
  };
  return {
    session,
    client,
    openUpstream,
    upstreamHandlers: () => upstreamHandlers!,
    dialed: () => dialed,
    metrics,
    logLines,
  };
}

Deno.test("frames sent before the upstream opens are delivered in order once it opens", async () => {
  const h = harness();
  for (let i = 0; i < 50; i++) {
    h.session.clientHandlers.onMessage(`{"type":"input_audio_buffer.append","event_id":"e${i}"}`);
  }
  h.session.clientHandlers.onMessage(new Uint8Array([9, 9]));
  const upstream = h.openUpstream();
  h.session.clientHandlers.onMessage('{"type":"response.create","event_id":"late"}');
  assert.equal(upstream.sent.length, 52);
  assert.deepEqual(
    upstream.sent.slice(0, 50).map((d) => JSON.parse(d as string).event_id),
    Array.from({ length: 50 }, (_, i) => `e${i}`),
  );
  assert.deepEqual(upstream.sent[50], new Uint8Array([9, 9]));
  assert.equal(JSON.parse(upstream.sent[51] as string).event_id, "late");
  h.session.close(1000, "done");
  await h.session.finished;
});

Deno.test("a full pre-open queue ends the session with an error event and 1013, counted as drops", async () => {
  const h = harness({ UPSTREAM_QUEUE_MAX_MESSAGES: "10" });
  for (let i = 0; i < 11; i++) {
    h.session.clientHandlers.onMessage(`{"type":"input_audio_buffer.append","event_id":"e${i}"}`);
  }
  const errors = h.client.sentEvents().filter((e) => e.type === "error");
  assert.equal(errors[0].error.code, "relay_queue_full");
  assert.equal(h.client.closedWith?.code, 1013);
  assert.equal(h.metrics.queueDrops.get({ reason: "queue_full" }), 11);
  assert.ok(h.logLines.some((l) => l.includes("UPSTREAM_QUEUE_MAX_MESSAGES=10")));
  const end = await h.session.finished;
  assert.equal(end.clientCode, 1013);
});

Deno.test("a slow client loses assistant audio past the soft bound and is closed past the hard bound", async () => {
  const h = harness({ CLIENT_BUFFER_SOFT_LIMIT_BYTES: "1000", CLIENT_BUFFER_HARD_LIMIT_BYTES: "5000" });
  h.openUpstream();
  const upstream = h.upstreamHandlers();
  const audio = '{"type":"response.output_audio.delta","delta":"AAAA"}';
  const transcript = '{"type":"response.output_audio_transcript.delta","delta":"hi"}';
  h.client.bufferedAmount = 2000;
  upstream.onMessage(audio);
  upstream.onMessage(transcript);
  assert.deepEqual(h.client.sent, [transcript], "audio dropped, other events still delivered");
  assert.equal(h.session.droppedForSlowClient, 1);
  h.client.bufferedAmount = 0;
  upstream.onMessage(audio);
  assert.equal(h.client.sent.at(-1), audio, "delivery resumes once the client catches up");
  h.client.bufferedAmount = 6000;
  upstream.onMessage(transcript);
  assert.equal(h.client.closedWith?.code, 1008);
  assert.equal(h.metrics.queueDrops.get({ reason: "slow_client" }), 2);
  assert.ok(
    h.logLines.some((l) =>
      l.includes("client_too_slow") && l.includes("CLIENT_BUFFER_HARD_LIMIT_BYTES=5000")
    ),
  );
  await h.session.finished;
});

Deno.test("keepalive: a client that stops answering pings ends the session", async () => {
  const h = harness();
  const upstream = h.openUpstream();
  h.session.keepalive();
  assert.equal(h.client.pings, 1);
  assert.equal(upstream.pings, 1);
  h.session.clientHandlers.onPong!();
  h.upstreamHandlers().onPong!();
  h.session.keepalive();
  assert.equal(h.session.isClosed, false);
  h.upstreamHandlers().onPong!();
  h.session.keepalive();
  assert.equal(h.session.isClosed, true);
  assert.equal(upstream.closedWith?.code, 1000);
  const end = await h.session.finished;
  assert.equal(end.clientCode, 1001);
});

Deno.test("keepalive: a dead upstream gets the client an error event and 1011", async () => {
  const h = harness();
  h.openUpstream();
  h.session.keepalive();
  h.session.clientHandlers.onPong!();
  h.session.keepalive();
  const error = h.client.sentEvents().find((e) => e.type === "error");
  assert.equal(error?.error.code, "upstream_unresponsive");
  assert.equal(h.client.closedWith?.code, 1011);
  await h.session.finished;
});

Deno.test("keepalive: runtimes without a ping API are left to their own keepalive", async () => {
  const h = harness();
  const upstream = h.openUpstream();
  h.client.canPing = false;
  upstream.canPing = false;
  for (let i = 0; i < 5; i++) h.session.keepalive();
  assert.equal(h.session.isClosed, false);
  h.session.close(1000, "done");
  await h.session.finished;
});

Deno.test("a dial that fails sends an error event and closes 1011", async () => {
  const h = harness();
  h.upstreamHandlers().onClose(1006, "connect ECONNREFUSED 127.0.0.1:9");
  const error = h.client.sentEvents().find((e) => e.type === "error");
  assert.equal(error?.error.code, "upstream_unavailable");
  assert.match(error?.error.message, /ECONNREFUSED/);
  assert.equal(h.client.closedWith?.code, 1011);
  assert.equal(h.metrics.upstreamDialFailures.get(), 1);
  await h.session.finished;
});

Deno.test("an upstream close reaches the client with a code and a reason naming the upstream error", async () => {
  const h = harness();
  h.openUpstream();
  h.upstreamHandlers().onMessage(
    '{"type":"error","error":{"type":"invalid_request_error","code":"session_expired"}}',
  );
  h.upstreamHandlers().onClose(1001, "");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(h.client.closedWith?.code, 1001);
  assert.match(h.client.closedWith!.reason, /session_expired/);
  const end = await h.session.finished;
  assert.equal(end.upstreamCode, 1001);
});

Deno.test("close codes map: protocol codes pass, abnormal drops become 1011", () => {
  assert.equal(clientCodeForUpstreamClose(1000), 1000);
  assert.equal(clientCodeForUpstreamClose(1005), 1000);
  assert.equal(clientCodeForUpstreamClose(1006), 1011);
  assert.equal(clientCodeForUpstreamClose(1002), 1011);
  assert.equal(clientCodeForUpstreamClose(4000), 4000);
  assert.equal(clientCodeForUpstreamClose(1013), 1013);
});

Deno.test("a planned end waits for the pause between turns: after the response, not while the user speaks", async () => {
  const h = harness();
  h.openUpstream();
  const upstream = h.upstreamHandlers();
  const fired: string[] = [];
  upstream.onMessage('{"type":"input_audio_buffer.speech_started","item_id":"i1"}');
  h.session.atNextPause(() => fired.push("pause"));
  upstream.onMessage('{"type":"input_audio_buffer.committed","item_id":"i1"}');
  upstream.onMessage('{"type":"response.created","response":{"id":"r1"}}');
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(fired.length, 0, "not while a response is being produced");
  upstream.onMessage('{"type":"response.done","response":{"id":"r1"}}');
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual([...fired], ["pause"]);
  assert.equal(
    JSON.parse(h.client.sent.at(-1) as string).type,
    "response.done",
    "the turn's end reached the client first",
  );
  h.session.atNextPause(() => fired.push("now"));
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(fired, ["pause", "now"]);
  h.session.close(1000, "done");
  await h.session.finished;
});

Deno.test("upstream frames that arrive before the client socket opens are delivered once it opens", async () => {
  const config = loadConfig({});
  let upstreamHandlers: SocketHandlers | undefined;
  const adapter: RuntimeAdapter = {
    runtime: "deno",
    upstreamAuth: "header",
    upgradeWebSocket: () => new Response(null),
    dialWebSocket: (_request, handlers) => (upstreamHandlers = handlers),
    keepAlive() {},
    now: Date.now,
  };
  const session = new RelaySession(
    {
      sessionId: "s2",
      userId: "u1",
      carrier: "header",
      model: "gpt-realtime",
      clientAddress: undefined,
      agentId: null,
      conversationId: "c1",
      voice: "alloy",
    },
    { url: "ws://upstream/", protocols: [], headers: {} },
    {
      config,
      adapter,
      log: createLogger({ level: "error", secrets: [], write: () => {} }),
      metrics: createRelayMetrics(() => 0),
    },
  );
  session.start();
  upstreamHandlers!.onOpen(new FakeSocket(upstreamHandlers), "");
  upstreamHandlers!.onMessage('{"type":"session.created","session":{}}');
  const client = new FakeSocket(session.clientHandlers);
  session.clientHandlers.onOpen(client, "realtime");
  assert.deepEqual(client.sentEvents().map((e) => e.type), ["session.created"]);
  session.close(1000, "done");
  await session.finished;
});
