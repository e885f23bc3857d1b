import assert from "node:assert/strict";
import {
  resolveVoiceEndpoint,
  VoiceClient,
  type VoiceClientError,
  type VoiceClientOptions,
  type VoiceState,
} from "./voice_client.ts";

// The client's audio and socket paths run in real Chromium (server/demo_browser_test.ts); this file
// covers what needs no browser (the reconnect and continuity behaviour, against real sockets) and keeps
// the whole module graph type-checked by `deno test`.

Deno.test("a new client is idle, sends nothing, and listeners can be removed", async () => {
  const client = new VoiceClient({
    token: "t",
    endpoint: resolveVoiceEndpoint({ VITE_VOICE_WEBSOCKET_URL: "wss://relay.example" }),
  });
  assert.equal(client.state, "idle");
  assert.equal(client.microphoneEnabled, false);
  assert.equal(client.conversationId, undefined);
  assert.equal(client.send({ type: "response.create" }), false, "nothing to send on before connect");
  assert.deepEqual(client.stats(), {
    inputChunksSent: 0,
    inputMsSent: 0,
    outputChunksReceived: 0,
    outputMsReceived: 0,
    outputUnderruns: 0,
    interruptions: 0,
    reconnects: 0,
  });
  const seen: VoiceState[] = [];
  const off = client.on("state", (state) => seen.push(state));
  off();
  await client.close();
  assert.equal(client.state, "closed");
  assert.deepEqual(seen, [], "a removed listener hears nothing");
});

Deno.test("closing before connecting ends the client for good", async () => {
  const client = new VoiceClient({ token: "t", endpoint: "ws://127.0.0.1:9/v1/realtime" });
  const states: VoiceState[] = [];
  client.on("state", (state) => states.push(state));
  await client.close();
  assert.equal(client.state, "closed");
  assert.deepEqual(states, ["closed"]);
  assert.throws(() => client.connect(), /closed/);
});

/** Deno has no Web Audio: a silent stand-in with what the player touches (audio runs in Chromium's tests). */
function silentAudioContext(): AudioContext {
  const node = () => ({
    fftSize: 0,
    gain: { value: 1 },
    connect() {},
    disconnect() {},
    getFloatTimeDomainData(buffer: Float32Array) {
      buffer.fill(0);
    },
  });
  return {
    currentTime: 0,
    outputLatency: 0,
    destination: {},
    createGain: node,
    createAnalyser: node,
    resume: () => Promise.resolve(),
    close: () => Promise.resolve(),
  } as unknown as AudioContext;
}

/** A real WebSocket server on 127.0.0.1 playing the relay's side of a script, recording each connection. */
class ScriptedRelay {
  readonly urls: URL[] = [];
  readonly protocols: string[] = [];
  private readonly sockets: WebSocket[] = [];
  private readonly server: Deno.HttpServer<Deno.NetAddr>;

  /** `script(socket, index, url)` runs when connection `index` (0-based) opens. */
  constructor(script: (socket: WebSocket, index: number, url: URL) => void) {
    this.server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
      const url = new URL(request.url);
      const index = this.urls.push(url) - 1;
      this.protocols.push(request.headers.get("sec-websocket-protocol") ?? "");
      const { socket, response } = Deno.upgradeWebSocket(request, { protocol: "realtime" });
      this.sockets.push(socket);
      socket.onopen = () => script(socket, index, url);
      return response;
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${this.server.addr.port}/v1/realtime`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) if (socket.readyState <= WebSocket.OPEN) socket.close(1000);
    await this.server.shutdown();
  }
}

/** Sends `events` as JSON text frames. */
function send(socket: WebSocket, ...events: Array<Record<string, unknown>>): void {
  for (const event of events) socket.send(JSON.stringify(event));
}

/** What the relay sends first on every session. */
function sessionStart(conversationId: string, created: boolean, resumedTurns: number) {
  return [
    {
      type: "relay.conversation",
      conversation_id: conversationId,
      created,
      session_id: crypto.randomUUID(),
      resumed_turns: resumedTurns,
    },
    { type: "session.created", session: {} },
  ];
}

/** Polls `check` every 10 ms, failing after 10 s. */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A client that records its events; any backoff would take a minute, far past `until`'s limit. */
function recordedClient(options: Omit<VoiceClientOptions, "token">) {
  const client = new VoiceClient({
    token: "user-token",
    audioContext: silentAudioContext(),
    reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    ...options,
  });
  const states: VoiceState[] = [];
  const errors: VoiceClientError[] = [];
  client.on("state", (state) => states.push(state));
  client.on("error", (error) => errors.push(error));
  return { client, states, errors };
}

Deno.test({
  name: "planned ends: the edge's time limit moves to the VPS relay, a drain reconnects, at once and with " +
    "the conversation",
  async fn() {
    const edge = new ScriptedRelay((socket) => {
      send(socket, ...sessionStart("conv-1", true, 0), {
        type: "relay.session_ending",
        reason: "edge_wall_clock",
        seconds_left: 15,
        retry: true,
      });
      socket.close(1000, "Session time limit reached (140 s)");
    });
    const vps = new ScriptedRelay((socket, index) => {
      send(socket, ...sessionStart("conv-1", false, 2));
      if (index === 0) {
        send(socket, { type: "relay.draining", retry_after_ms: 20, drain_seconds: 30 });
        socket.close(1012, "Relay restarting");
      }
    });
    const endpoints = resolveVoiceEndpoint({
      VITE_VOICE_WEBSOCKET_URL: vps.url,
      VITE_SUPABASE_URL: "http://x",
    });
    // The app starts on the edge, with the VPS relay configured as well.
    const onEdge = { url: edge.url, kind: "edge" as const, source: "VITE_SUPABASE_URL" as const };
    const { client, states, errors } = recordedClient({
      endpoint: { ...onEdge, candidates: [endpoints.candidates[0], onEdge] },
      voice: "marin",
    });
    try {
      await client.connect();
      await until("two sessions on the VPS relay", () => vps.urls.length === 2 && client.state === "ready");
      assert.equal(edge.urls.length, 1, "the edge is left for good");
      assert.equal(edge.urls[0].searchParams.get("conversation_id"), null);
      for (const url of vps.urls) {
        assert.equal(url.searchParams.get("conversation_id"), "conv-1");
        assert.equal(url.searchParams.get("voice"), "marin");
      }
      for (const protocol of [...edge.protocols, ...vps.protocols]) {
        assert.equal(protocol, "realtime, openai-insecure-api-key.user-token");
      }
      assert.ok(![...edge.urls, ...vps.urls].some((url) => url.href.includes("user-token")));
      assert.equal(client.conversationId, "conv-1");
      assert.deepEqual(states, ["connecting", "ready", "reconnecting", "ready", "reconnecting", "ready"]);
      assert.deepEqual(errors, [], "a planned end is not an error");
      assert.equal(client.stats().reconnects, 2);
    } finally {
      await client.close();
      await edge.close();
      await vps.close();
    }
  },
});

Deno.test("a relay that refuses the remembered conversation (4003) gets one new conversation, not a loop", async () => {
  const relay = new ScriptedRelay((socket, index, url) => {
    if (index === 0) {
      send(socket, ...sessionStart("conv-1", true, 0), {
        type: "relay.session_ending",
        reason: "max_session_seconds",
        seconds_left: 15,
        retry: true,
      });
      socket.close(1000, "Session time limit reached (60 s)");
    } else if (url.searchParams.has("conversation_id")) {
      socket.close(4003, "This relay keeps no agents or conversations (no storage)");
    } else {
      send(socket, ...sessionStart("conv-2", true, 0));
    }
  });
  const { client, states, errors } = recordedClient({ endpoint: relay.url });
  try {
    await client.connect();
    await until("the new conversation", () => client.conversationId === "conv-2" && client.state === "ready");
    assert.deepEqual(relay.urls.map((url) => url.searchParams.get("conversation_id")), [
      null,
      "conv-1",
      null,
    ]);
    assert.deepEqual(errors.map((e) => [e.code, e.fatal]), [[4003, false]]);
    assert.match(errors[0].message, /could not be resumed \(This relay keeps no .*\); starting a new one/);
    assert.deepEqual(states, ["connecting", "ready", "reconnecting", "ready"]);
  } finally {
    await client.close();
    await relay.close();
  }
});

Deno.test("4001, 4029 and a 4003 for the app's own conversation id end the client without a retry", async () => {
  for (
    const [code, query] of [
      [4001, {}],
      [4029, {}],
      [4003, { conversation_id: "someone-elses" }],
    ] as const
  ) {
    const relay = new ScriptedRelay((socket) => socket.close(code, "refused"));
    const { client, errors } = recordedClient({
      endpoint: relay.url,
      query,
      // A retry would come at once: the client must be closed for good instead.
      reconnect: { initialDelayMs: 1, maxDelayMs: 1 },
    });
    try {
      await assert.rejects(client.connect(), /refused/);
      assert.equal(client.state, "closed");
      assert.equal(relay.urls.length, 1, `${code}: one connection`);
      assert.deepEqual(errors.map((e) => [e.code, e.fatal]), [[code, true]]);
    } finally {
      await client.close();
      await relay.close();
    }
  }
});
