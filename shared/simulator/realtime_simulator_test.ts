/**
 * Tests of the OpenAI Realtime simulator over real sockets: a simulator on 127.0.0.1, clients with the
 * built-in WebSocket (subprotocol auth, as browsers) and npm `ws` (header auth, as server SDKs), and the
 * official agents SDK transport as a compatibility check of the event shapes.
 *
 * @module
 */
import assert from "node:assert/strict";
import WsWebSocket from "ws";
import { createDenoAdapter } from "../../server/deno_adapter.ts";
import { encodeBase64 } from "./pcm_audio.ts";
import type { ScriptedTurn } from "./script.ts";
import { sessionExpiredMessage } from "./simulator_connection.ts";
import {
  createRealtimeSimulator,
  type RealtimeSimulator,
  type RealtimeSimulatorOptions,
  type SimulatedConnection,
} from "./realtime_simulator.ts";

/** A server event as a test reads it (shapes are checked by the assertions themselves). */
// deno-lint-ignore no-explicit-any
type ServerEvent = Record<string, any>;

/** How long a test waits for an event before failing with a description (a hang guard, not a timing check). */
const waitGuardMs = 10_000;

/** A client socket that keeps every server event it received. */
class TestClient {
  readonly events: ServerEvent[] = [];
  protocol = "";
  closeInfo: { code: number; reason: string } | undefined;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private wake: Array<() => void> = [];
  private resolveOpened!: () => void;
  private resolveClosed!: (info: { code: number; reason: string }) => void;

  constructor(
    private readonly sendFrame: (data: string | Uint8Array) => void,
    private readonly closeSocket: () => void,
  ) {
    this.opened = new Promise((resolve) => (this.resolveOpened = resolve));
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** Called by the socket wiring. */
  handleOpen(protocol: string): void {
    this.protocol = protocol;
    this.resolveOpened();
  }

  /** Called by the socket wiring. */
  handleText(text: string): void {
    this.events.push(JSON.parse(text));
    this.notify();
  }

  /** Called by the socket wiring. */
  handleClose(code: number, reason: string): void {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason };
    this.resolveOpened();
    this.resolveClosed(this.closeInfo);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const fn of wake) fn();
  }

  /** Sends an event object as JSON, or a raw text/binary frame. */
  send(event: Record<string, unknown> | string | Uint8Array): void {
    this.sendFrame(typeof event === "string" || event instanceof Uint8Array ? event : JSON.stringify(event));
  }

  /** Closes the socket (normal closure) and waits for the close to complete. */
  async close(): Promise<void> {
    if (!this.closeInfo) this.closeSocket();
    await this.closed;
  }

  /** Events of one type, in order. */
  ofType(type: string): ServerEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** The first event at index >= `from` that matches; waits for it if needed. */
  async waitFor(what: string, predicate: (event: ServerEvent) => boolean, from = 0): Promise<ServerEvent> {
    let guard: ReturnType<typeof setTimeout> | undefined;
    let expired = false;
    try {
      while (true) {
        const found = this.events.findIndex((e, i) => i >= from && predicate(e));
        if (found >= 0) return this.events[found];
        if (this.closeInfo) {
          throw new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) before ${what}`);
        }
        if (expired) throw new Error(`no ${what} within ${waitGuardMs} ms; got ${this.describe()}`);
        guard ??= setTimeout(() => {
          expired = true;
          this.notify();
        }, waitGuardMs);
        await new Promise<void>((resolve) => this.wake.push(resolve));
      }
    } finally {
      if (guard !== undefined) clearTimeout(guard);
    }
  }

  /** Waits for the first event of `type` at index >= `from`. */
  waitForType(type: string, from = 0): Promise<ServerEvent> {
    return this.waitFor(type, (e) => e.type === type, from);
  }

  private describe(): string {
    return this.events.map((e) => e.type).slice(-12).join(", ") || "no events";
  }
}

/** Opens a client with the runtime's built-in WebSocket (subprotocols only, as browsers). */
function openBuiltinClient(url: string, protocols: string[]): TestClient {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  const client = new TestClient((data) => ws.send(data), () => ws.close(1000, "test done"));
  ws.onopen = () => client.handleOpen(ws.protocol);
  ws.onmessage = (event) => {
    if (typeof event.data === "string") client.handleText(event.data);
  };
  ws.onclose = (event) => client.handleClose(event.code, event.reason);
  return client;
}

/** Opens a client with npm `ws`, which can send headers (as server SDKs do). */
function openWsClient(
  url: string,
  options: { headers?: Record<string, string>; protocols?: string[] } = {},
): TestClient {
  const ws = new WsWebSocket(url, options.protocols ?? [], {
    headers: options.headers ?? {},
    perMessageDeflate: false,
  });
  const client = new TestClient((data) => ws.send(data), () => ws.close(1000, "test done"));
  ws.on("open", () => client.handleOpen(ws.protocol));
  ws.on("message", (data: WsWebSocket.RawData, isBinary: boolean) => {
    if (!isBinary) client.handleText(data.toString());
  });
  ws.on("close", (code: number, reason: Buffer) => client.handleClose(code, reason.toString()));
  ws.on("error", () => {});
  return client;
}

/** A simulator on 127.0.0.1 with a free port, and the clients a test opened on it. */
interface SimulatorHarness {
  simulator: RealtimeSimulator;
  /** `ws://127.0.0.1:PORT` */
  wsBase: string;
  /** `http://127.0.0.1:PORT` */
  httpBase: string;
  /** `ws://127.0.0.1:PORT/v1/realtime?model=gpt-realtime` */
  url: string;
  /** Opens a built-in WebSocket client with `protocols`, closed by the harness at the end. */
  builtin(protocols: string[], url?: string): TestClient;
  /** Opens a `ws` client, closed by the harness at the end. */
  ws(options?: { headers?: Record<string, string>; protocols?: string[] }, url?: string): TestClient;
}

/** Runs `body` against a fresh simulator; closes every client, the simulator and the server afterwards. */
async function withSimulator(
  options: Omit<RealtimeSimulatorOptions, "adapter">,
  body: (harness: SimulatorHarness) => Promise<void>,
): Promise<void> {
  const simulator = createRealtimeSimulator({
    adapter: createDenoAdapter({ idleTimeoutSeconds: 30 }),
    ...options,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, simulator.app.fetch);
  const clients: TestClient[] = [];
  const wsBase = `ws://127.0.0.1:${server.addr.port}`;
  const url = `${wsBase}/v1/realtime?model=gpt-realtime`;
  const harness: SimulatorHarness = {
    simulator,
    wsBase,
    httpBase: `http://127.0.0.1:${server.addr.port}`,
    url,
    builtin(protocols, target = url) {
      const client = openBuiltinClient(target, protocols);
      clients.push(client);
      return client;
    },
    ws(wsOptions = {}, target = url) {
      const client = openWsClient(target, wsOptions);
      clients.push(client);
      return client;
    },
  };
  try {
    await body(harness);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    simulator.closeAll();
    await server.shutdown();
  }
}

/** `ms` of a sine tone as 24 kHz PCM16 little-endian. */
function pcmTone(ms: number, frequency = 440, amplitude = 0.3): Uint8Array {
  const samples = Math.round(24 * ms);
  const bytes = new Uint8Array(samples * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples; i++) {
    view.setInt16(
      i * 2,
      Math.round(Math.sin((2 * Math.PI * frequency * i) / 24_000) * amplitude * 32767),
      true,
    );
  }
  return bytes;
}

/** `ms` of digital silence as 24 kHz PCM16. */
function pcmSilence(ms: number): Uint8Array {
  return new Uint8Array(Math.round(24 * ms) * 2);
}

/** Concatenates audio buffers. */
function concatAudio(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Splits audio into `input_audio_buffer.append` events of `frameMs` (20 ms, like browser clients). */
function appendEvents(audio: Uint8Array, frameMs = 20): Array<Record<string, unknown>> {
  const frameBytes = frameMs * 48;
  const events: Array<Record<string, unknown>> = [];
  for (let offset = 0; offset < audio.length; offset += frameBytes) {
    events.push({
      type: "input_audio_buffer.append",
      audio: encodeBase64(audio.subarray(offset, offset + frameBytes)),
    });
  }
  return events;
}

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

const key = "sk-test-0123456789abcdefghijklmnop";
const keyProtocol = `openai-insecure-api-key.${key}`;
const authHeader = { Authorization: `Bearer ${key}` };

/** One short exchange, so conversation tests stay quick. */
const quickScript: ScriptedTurn[] = [
  {
    userTranscript: "Is this thing on?",
    assistantTranscript: "Loud and clear, go ahead.",
    assistantAudioMs: 1000,
  },
  {
    userTranscript: "Tell me a fact.",
    assistantTranscript: "Octopuses have three hearts.",
    assistantAudioMs: 500,
  },
];

/** The most recent connection record. */
function lastConnection(simulator: RealtimeSimulator): SimulatedConnection {
  const record = simulator.connections[simulator.connections.length - 1];
  assert.ok(record, "the simulator recorded no connection");
  return record;
}

/** Waits until the simulator has recorded the close of `record` (the server side may lag the client). */
async function recordedClose(
  record: SimulatedConnection,
): Promise<NonNullable<SimulatedConnection["closed"]>> {
  for (let i = 0; i < 200 && !record.closed; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(record.closed, `connection ${record.id} was never recorded as closed`);
  return record.closed;
}

/** Asserts the API's error shape and returns the inner error. */
function assertApiError(event: ServerEvent, code: string, clientEventId: string | null = null): ServerEvent {
  assert.equal(event.type, "error");
  assert.match(event.event_id, /^event_/);
  assert.deepEqual(Object.keys(event.error).sort(), ["code", "event_id", "message", "param", "type"]);
  assert.equal(event.error.code, code, `expected ${code}, got ${JSON.stringify(event.error)}`);
  assert.equal(event.error.event_id, clientEventId);
  assert.equal(typeof event.error.message, "string");
  return event.error;
}

/** Types of the events from `from` on, without the streaming deltas. */
function typesWithoutDeltas(events: ServerEvent[], from = 0): string[] {
  return events.slice(from).map((e) => e.type).filter((t) => !t.endsWith(".delta"));
}

function decodedLength(base64: string): number {
  return atob(base64).length;
}

const oneTurnAudio = () => concatAudio(pcmTone(1000), pcmSilence(600));

Deno.test("header auth (ws): session.created in the GA shape, key redacted everywhere it is recorded", async () => {
  await withSimulator({ apiKeys: [key] }, async ({ simulator, ws, httpBase }) => {
    const client = ws({ headers: authHeader });
    const created = await client.waitForType("session.created");
    assert.equal(client.protocol, "");
    const session = created.session;
    assert.equal(session.type, "realtime");
    assert.equal(session.object, "realtime.session");
    assert.match(session.id, /^sess_/);
    assert.equal(session.model, "gpt-realtime");
    assert.deepEqual(session.output_modalities, ["audio"]);
    assert.deepEqual(session.audio.input.format, { type: "audio/pcm", rate: 24000 });
    assert.deepEqual(session.audio.output.format, { type: "audio/pcm", rate: 24000 });
    assert.equal(session.audio.output.voice, "alloy");
    assert.equal(session.audio.input.turn_detection.type, "server_vad");
    assert.equal(session.audio.input.turn_detection.silence_duration_ms, 500);
    assert.ok(session.expires_at > Date.now() / 1000);
    for (const betaField of ["voice", "modalities", "input_audio_format", "turn_detection"]) {
      assert.equal(betaField in session, false, `session.created must not carry the beta field ${betaField}`);
    }

    const record = lastConnection(simulator);
    assert.equal(record.authForm, "header");
    assert.equal(record.headers.authorization, "Bearer [REDACTED]");
    assert.equal(record.sessionId, session.id);
    assert.equal(record.refusal, null);
    assert.equal(JSON.stringify(record).includes(key), false);

    const listing = await (await fetch(`${httpBase}/_simulator/connections?events=1`)).text();
    assert.equal(listing.includes(key), false, "the connections endpoint must not serve the key");
    assert.equal(JSON.parse(listing).connections[0].authForm, "header");
    const health = await (await fetch(`${httpBase}/health`)).json();
    assert.equal(health.ok, true);
    assert.equal(health.openConnections, 1);
  });
});

Deno.test("subprotocol auth (built-in WebSocket): selects `realtime`, never the key", async () => {
  await withSimulator({ apiKeys: [key] }, async ({ simulator, builtin }) => {
    const client = builtin(["realtime", keyProtocol, "openai-agents-sdk.0.20.0"]);
    await client.waitForType("session.created");
    assert.equal(client.protocol, "realtime");
    const record = lastConnection(simulator);
    assert.equal(record.authForm, "subprotocol");
    assert.equal(record.selectedProtocol, "realtime");
    assert.deepEqual(record.offeredProtocols, [
      "realtime",
      "openai-insecure-api-key.[REDACTED]",
      "openai-agents-sdk.0.20.0",
    ]);
    assert.equal(JSON.stringify(record).includes(key), false);
    assert.equal(JSON.stringify(client.events).includes(key), false);
  });
});

Deno.test("the retired beta shape is refused, by header and by subprotocol", async () => {
  await withSimulator({ apiKeys: [key] }, async ({ simulator, ws, builtin }) => {
    const byHeader = ws({ headers: { ...authHeader, "OpenAI-Beta": "realtime=v1" } });
    const bySubprotocol = builtin(["realtime", keyProtocol, "openai-beta.realtime-v1"]);
    for (const client of [byHeader, bySubprotocol]) {
      const closed = await client.closed;
      assert.equal(client.events.length, 1, "only the error, no session.created");
      const error = assertApiError(client.events[0], "beta_api_shape_disabled");
      assert.equal(error.type, "invalid_request_error");
      assert.match(error.message, /^The Realtime Beta API is no longer supported/);
      assert.deepEqual(closed, { code: 4000, reason: "invalid_request_error.beta_api_shape_disabled" });
    }
    assert.equal(bySubprotocol.protocol, "realtime");
    for (const record of simulator.connections) {
      assert.equal(record.refusal, "beta_api_shape_disabled");
      assert.equal((await recordedClose(record)).by, "server");
    }
  });
});

Deno.test("a wrong or missing key, and a missing or unknown model, are refused with the API's errors", async () => {
  await withSimulator({ apiKeys: [key] }, async ({ simulator, ws, builtin, wsBase }) => {
    const wrongKey = "sk-wrong-key-value-0000000000";
    const wrong = builtin(["realtime", `openai-insecure-api-key.${wrongKey}`]);
    const missing = ws({});
    const noModel = ws({ headers: authHeader }, `${wsBase}/v1/realtime`);
    const unknownModel = ws({ headers: authHeader }, `${wsBase}/v1/realtime?model=gpt-4o-realtime-preview`);
    const expectations: Array<[TestClient, string, number]> = [
      [wrong, "invalid_api_key", 3000],
      [missing, "invalid_api_key", 3000],
      [noModel, "missing_required_parameter", 4000],
      [unknownModel, "model_not_found", 4000],
    ];
    for (const [client, code, closeCode] of expectations) {
      const closed = await client.closed;
      assert.equal(client.events.length, 1);
      assertApiError(client.events[0], code);
      assert.deepEqual(closed, { code: closeCode, reason: `invalid_request_error.${code}` });
    }
    assert.equal(wrong.events[0].error.message.includes(wrongKey), false, "a wrong key is quoted masked");
    const records = simulator.connections;
    assert.deepEqual(records.map((r) => r.authForm), ["subprotocol", "none", "header", "header"]);
    assert.deepEqual(records.map((r) => r.model), [
      "gpt-realtime",
      "gpt-realtime",
      null,
      "gpt-4o-realtime-preview",
    ]);
    assert.equal(JSON.stringify(records).includes(wrongKey), false);
  });
});

Deno.test("a spoken turn from PCM produces the full GA event sequence, transcripts and usage", async () => {
  await withSimulator({ apiKeys: [key], script: quickScript }, async ({ simulator, ws }) => {
    const client = ws({ headers: authHeader });
    await client.waitForType("session.created");
    const start = client.events.length;
    appendEvents(oneTurnAudio()).forEach((event, i) => client.send({ ...event, event_id: `append-${i}` }));
    const done = await client.waitForType("response.done");

    assert.deepEqual(typesWithoutDeltas(client.events, start), [
      "input_audio_buffer.speech_started",
      "input_audio_buffer.speech_stopped",
      "input_audio_buffer.committed",
      "conversation.item.added",
      "conversation.item.done",
      "conversation.item.input_audio_transcription.completed",
      "response.created",
      "response.output_item.added",
      "conversation.item.added",
      "response.content_part.added",
      "response.output_audio.done",
      "response.output_audio_transcript.done",
      "response.content_part.done",
      "response.output_item.done",
      "conversation.item.done",
      "response.done",
    ]);

    const [started] = client.ofType("input_audio_buffer.speech_started");
    const [stopped] = client.ofType("input_audio_buffer.speech_stopped");
    const [committed] = client.ofType("input_audio_buffer.committed");
    assert.equal(started.audio_start_ms, 0);
    assert.equal(
      stopped.audio_end_ms,
      1500,
      "1 s of tone, then 500 ms of silence (audio time) ends the turn",
    );
    assert.equal(stopped.item_id, started.item_id);
    assert.equal(committed.item_id, started.item_id);
    assert.equal(committed.previous_item_id, null);
    const userItem = client.ofType("conversation.item.added")[0].item;
    assert.equal(userItem.id, started.item_id);
    assert.equal(userItem.role, "user");
    assert.equal(userItem.content[0].type, "input_audio");
    const transcription = client.ofType("conversation.item.input_audio_transcription.completed")[0];
    assert.equal(transcription.item_id, started.item_id);
    assert.equal(transcription.content_index, 0);
    assert.equal(transcription.transcript, quickScript[0].userTranscript);
    assert.equal(transcription.usage.type, "tokens");

    const created = client.ofType("response.created")[0].response;
    assert.equal(created.object, "realtime.response");
    assert.equal(created.status, "in_progress");
    assert.match(created.id, /^resp_/);
    const assistantItem = client.ofType("response.output_item.added")[0].item;
    assert.equal(assistantItem.role, "assistant");
    assert.equal(assistantItem.status, "in_progress");
    assert.equal(client.ofType("conversation.item.added")[1].previous_item_id, userItem.id);
    assert.deepEqual(client.ofType("response.content_part.added")[0].part, { type: "audio", transcript: "" });

    const transcriptDeltas = client.ofType("response.output_audio_transcript.delta");
    assert.ok(transcriptDeltas.length >= 2, "the transcript streams in several deltas");
    assert.equal(transcriptDeltas.map((d) => d.delta).join(""), quickScript[0].assistantTranscript);
    const audioDeltas = client.ofType("response.output_audio.delta");
    assert.ok(audioDeltas.length >= 2);
    for (const delta of [...audioDeltas, ...transcriptDeltas]) {
      assert.equal(delta.response_id, created.id);
      assert.equal(delta.item_id, assistantItem.id);
      assert.equal(delta.output_index, 0);
      assert.equal(delta.content_index, 0);
    }
    const audioBytes = audioDeltas.reduce((n, d) => n + decodedLength(d.delta), 0);
    assert.equal(audioBytes, quickScript[0].assistantAudioMs * 48, "24 kHz PCM16: 48 bytes per ms");
    assert.equal(
      client.ofType("response.output_audio_transcript.done")[0].transcript,
      quickScript[0].assistantTranscript,
    );

    const response = done.response;
    assert.equal(response.id, created.id);
    assert.equal(response.status, "completed");
    assert.equal(response.status_details, null);
    assert.equal(response.output[0].id, assistantItem.id);
    assert.equal(response.output[0].status, "completed");
    assert.deepEqual(response.output[0].content, [
      { type: "output_audio", transcript: quickScript[0].assistantTranscript },
    ]);
    const usage = response.usage;
    assert.equal(usage.input_token_details.audio_tokens, 15, "1.5 s of user audio at 10 tokens/s");
    assert.ok(usage.input_token_details.text_tokens > 0, "the instructions count as text input");
    assert.equal(usage.input_token_details.cached_tokens, 0, "nothing is cached on the first turn");
    assert.deepEqual(usage.input_token_details.cached_tokens_details, {
      text_tokens: 0,
      audio_tokens: 0,
      image_tokens: 0,
    });
    assert.equal(usage.output_token_details.audio_tokens, 20, "1 s of assistant audio at 20 tokens/s");
    assert.equal(
      usage.output_token_details.text_tokens,
      Math.ceil(quickScript[0].assistantTranscript.length / 4),
    );
    assert.equal(
      usage.input_tokens,
      usage.input_token_details.text_tokens + usage.input_token_details.audio_tokens,
    );
    assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);

    // A second turn bills the whole conversation again; the first turn's input is now cached.
    const second = client.events.length;
    appendEvents(oneTurnAudio()).forEach((event) => client.send(event));
    const secondDone = await client.waitForType("response.done", second);
    const secondUsage = secondDone.response.usage;
    // Context: the first user item (1.5 s), the first answer (1 s), the second user item: speech starts at
    // 1.6 s, so with 300 ms of prefix padding its audio runs from the previous commit (1.5 s) to 3.1 s.
    assert.equal(secondUsage.input_token_details.audio_tokens, 15 + 20 + 16);
    assert.equal(client.ofType("input_audio_buffer.speech_started")[1].audio_start_ms, 1500);
    assert.equal(secondUsage.input_token_details.cached_tokens, usage.input_tokens);
    assert.equal(
      client.ofType("conversation.item.input_audio_transcription.completed")[1].transcript,
      quickScript[1].userTranscript,
    );
    assert.equal(secondDone.response.output[0].content[0].transcript, quickScript[1].assistantTranscript);

    const record = lastConnection(simulator);
    assert.equal(record.inputAudioBytes, 2 * 1600 * 48);
    assert.ok(record.receivedEvents.every((e) => e.type === "input_audio_buffer.append"));
    assert.equal(record.receivedEvents[0].eventId, "append-0");
    assert.equal(record.receivedEvents[0].audioBytes, 20 * 48);
    assert.ok(record.receivedEvents[0].raw.length <= 161, "append frames are recorded cut");
  });
});

Deno.test("barge-in cancels the response in flight; truncation is checked against the audio sent", async () => {
  const longAnswer: ScriptedTurn[] = [
    {
      userTranscript: "Tell me a long story.",
      assistantTranscript: "Once upon a time, " + "again ".repeat(200),
      assistantAudioMs: 60_000,
    },
  ];
  await withSimulator({ apiKeys: [key], script: longAnswer, realtimePacing: true }, async ({ ws }) => {
    const client = ws({ headers: authHeader });
    await client.waitForType("session.created");
    appendEvents(oneTurnAudio()).forEach((event) => client.send(event));
    const firstDelta = await client.waitForType("response.output_audio.delta");
    const responseId = firstDelta.response_id;
    const itemId = firstDelta.item_id;

    // The user speaks again while the assistant is still answering.
    let mark = client.events.length;
    appendEvents(pcmTone(300)).forEach((event) => client.send(event));
    const bargeIn = await client.waitForType("input_audio_buffer.speech_started", mark);
    const cancelled = await client.waitForType("response.done", mark);
    assert.ok(client.events.indexOf(bargeIn) < client.events.indexOf(cancelled));
    assert.equal(cancelled.response.id, responseId);
    assert.equal(cancelled.response.status, "cancelled");
    assert.deepEqual(cancelled.response.status_details, { type: "cancelled", reason: "turn_detected" });
    assert.equal(cancelled.response.output[0].status, "incomplete");
    const closing = typesWithoutDeltas(client.events, client.events.indexOf(bargeIn) + 1);
    assert.deepEqual(closing.slice(0, 6), [
      "response.output_audio.done",
      "response.output_audio_transcript.done",
      "response.content_part.done",
      "response.output_item.done",
      "conversation.item.done",
      "response.done",
    ]);
    const sentMs = client.ofType("response.output_audio.delta")
      .filter((d) => d.response_id === responseId)
      .reduce((ms, d) => ms + decodedLength(d.delta) / 48, 0);
    assert.ok(sentMs >= 100 && sentMs < 60_000);
    assert.ok(
      cancelled.response.usage.output_token_details.audio_tokens < 60 * 20,
      "only the audio sent is billed",
    );

    mark = client.events.length;
    client.send({
      type: "conversation.item.truncate",
      event_id: "over",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: 600_000,
    });
    const over = assertApiError(await client.waitForType("error", mark), "invalid_value", "over");
    assert.equal(over.param, "audio_end_ms");
    assert.match(over.message, /^Audio content of \d+ms is already shorter than 600000ms$/);

    mark = client.events.length;
    client.send({
      type: "conversation.item.truncate",
      event_id: "within",
      item_id: itemId,
      content_index: 0,
      audio_end_ms: 50,
    });
    const truncated = await client.waitFor(
      "truncated or error",
      (e) => e.type === "conversation.item.truncated" || e.type === "error",
      mark,
    );
    assert.equal(truncated.type, "conversation.item.truncated", JSON.stringify(truncated));
    assert.deepEqual(
      {
        item_id: truncated.item_id,
        content_index: truncated.content_index,
        audio_end_ms: truncated.audio_end_ms,
      },
      { item_id: itemId, content_index: 0, audio_end_ms: 50 },
    );

    mark = client.events.length;
    const userItemId = client.ofType("input_audio_buffer.committed")[0].item_id;
    client.send({
      type: "conversation.item.truncate",
      event_id: "user",
      item_id: userItemId,
      content_index: 0,
      audio_end_ms: 0,
    });
    assert.match(
      assertApiError(await client.waitForType("error", mark), "invalid_value", "user").message,
      /Only model output audio/,
    );

    // response.create while one runs, response.cancel, and a cancel with nothing to cancel.
    mark = client.events.length;
    client.send({ type: "response.create", event_id: "create-1" });
    const manual = await client.waitForType("response.created", mark);
    client.send({ type: "response.create", event_id: "create-2" });
    assertApiError(
      await client.waitForType("error", mark),
      "conversation_already_has_active_response",
      "create-2",
    );
    client.send({ type: "response.cancel", event_id: "cancel-1" });
    const clientCancelled = await client.waitForType("response.done", mark);
    assert.equal(clientCancelled.response.id, manual.response.id);
    assert.deepEqual(clientCancelled.response.status_details, {
      type: "cancelled",
      reason: "client_cancelled",
    });
    mark = client.events.length;
    client.send({ type: "response.cancel", event_id: "cancel-2" });
    assertApiError(await client.waitForType("error", mark), "response_cancel_not_active", "cancel-2");
  });
});

Deno.test("session.update: the GA shape is applied, beta and invalid fields are refused by name", async () => {
  await withSimulator({ apiKeys: [key], script: quickScript }, async ({ ws }) => {
    const client = ws({ headers: authHeader });
    await client.waitForType("session.created");

    let mark = client.events.length;
    client.send({
      type: "session.update",
      event_id: "ga",
      session: {
        type: "realtime",
        model: "gpt-realtime",
        instructions: "Be brief.",
        output_modalities: ["audio"],
        audio: {
          input: {
            format: { type: "audio/pcm", rate: 24000 },
            transcription: { model: "whisper-1" },
            noise_reduction: { type: "near_field" },
            turn_detection: null,
          },
          output: { format: { type: "audio/pcm" }, voice: "marin", speed: 1.1 },
        },
        tools: [],
        tool_choice: "auto",
        max_output_tokens: "inf",
      },
    });
    const updated = (await client.waitForType("session.updated", mark)).session;
    assert.equal(updated.instructions, "Be brief.");
    assert.equal(updated.audio.output.voice, "marin");
    assert.equal(updated.audio.output.speed, 1.1);
    assert.equal(updated.audio.input.turn_detection, null);
    assert.deepEqual(updated.audio.output.format, { type: "audio/pcm", rate: 24000 });

    const refusals: Array<[Record<string, unknown>, string, string]> = [
      [{ type: "realtime", voice: "alloy" }, "unknown_parameter", "session.voice"],
      [{ type: "realtime", modalities: ["text", "audio"] }, "unknown_parameter", "session.modalities"],
      [{ type: "realtime", input_audio_format: "pcm16" }, "unknown_parameter", "session.input_audio_format"],
      [{ voice: "alloy", instructions: "x" }, "unknown_parameter", "session.voice"],
      [{ instructions: "x" }, "missing_required_parameter", "session.type"],
      [{ type: "transcription" }, "invalid_value", "session.type"],
      [
        { type: "realtime", audio: { output: { voice: "nova" } } },
        "invalid_value",
        "session.audio.output.voice",
      ],
      [
        { type: "realtime", audio: { input: { format: { type: "pcm16" } } } },
        "invalid_value",
        "session.audio.input.format.type",
      ],
      [{ type: "realtime", instructions: 42 }, "invalid_type", "session.instructions"],
      [
        { type: "realtime", audio: { output: { speed: 3 } } },
        "decimal_above_max_value",
        "session.audio.output.speed",
      ],
    ];
    for (const [session, code, param] of refusals) {
      mark = client.events.length;
      client.send({ type: "session.update", event_id: `bad-${param}`, session });
      const error = assertApiError(await client.waitForType("error", mark), code, `bad-${param}`);
      assert.equal(error.param, param, JSON.stringify(error));
    }
    const unknownMessage = client.ofType("error")[0].error.message;
    assert.equal(unknownMessage, "Unknown parameter: 'session.voice'.");
    assert.match(
      client.ofType("error")[6].error.message,
      /Supported values are: 'alloy', .*'marin', and 'cedar'\./,
    );
    assert.equal(client.ofType("session.updated").length, 1, "refused updates change nothing");

    // With turn_detection null a commit makes the user item, and response.create the answer.
    mark = client.events.length;
    client.send({ type: "input_audio_buffer.commit", event_id: "empty" });
    assertApiError(await client.waitForType("error", mark), "input_audio_buffer_commit_empty", "empty");
    appendEvents(pcmTone(500)).forEach((event) => client.send(event));
    mark = client.events.length;
    client.send({ type: "input_audio_buffer.commit" });
    const transcription = await client.waitForType(
      "conversation.item.input_audio_transcription.completed",
      mark,
    );
    assert.deepEqual(transcription.usage, { type: "duration", seconds: 1 });
    assert.deepEqual(typesWithoutDeltas(client.events, mark), [
      "input_audio_buffer.committed",
      "conversation.item.added",
      "conversation.item.done",
      "conversation.item.input_audio_transcription.completed",
    ]);
    client.send({ type: "response.create" });
    const done = await client.waitForType("response.done", mark);
    assert.equal(done.response.status, "completed");
    assert.equal(done.response.audio.output.voice, "marin");

    mark = client.events.length;
    client.send({
      type: "session.update",
      event_id: "voice",
      session: { type: "realtime", audio: { output: { voice: "ash" } } },
    });
    assertApiError(await client.waitForType("error", mark), "cannot_update_voice", "voice");
  });
});

Deno.test("malformed input gets API-shaped errors and the session stays usable", async () => {
  await withSimulator({ apiKeys: [key] }, async ({ simulator, builtin }) => {
    const client = builtin(["realtime", keyProtocol]);
    await client.waitForType("session.created");
    const cases: Array<[string | Uint8Array, string, string | null, string | null]> = [
      ["this is not json", "invalid_json", null, null],
      [JSON.stringify({ event_id: "no-type" }), "invalid_event", "no-type", null],
      [JSON.stringify([1, 2]), "invalid_event", null, null],
      [
        JSON.stringify({ type: "response.audio.delta", event_id: "beta-type" }),
        "invalid_value",
        "beta-type",
        "type",
      ],
      [new Uint8Array([1, 2, 3]), "invalid_json", null, null],
      [
        JSON.stringify({ type: "input_audio_buffer.append", event_id: "b64", audio: "@@not base64@@" }),
        "invalid_value",
        "b64",
        "audio",
      ],
      [
        JSON.stringify({ type: "input_audio_buffer.append", event_id: "extra", audio: "", format: "pcm16" }),
        "unknown_parameter",
        "extra",
        "format",
      ],
      [
        JSON.stringify({ type: "input_audio_buffer.append", event_id: "no-audio" }),
        "missing_required_parameter",
        "no-audio",
        "audio",
      ],
      [
        JSON.stringify({ type: "conversation.item.delete", event_id: "del", item_id: "item_missing" }),
        "item_not_found",
        "del",
        "item_id",
      ],
      [
        JSON.stringify({
          type: "conversation.item.create",
          event_id: "beta-content",
          item: { type: "message", role: "user", content: [{ type: "text", text: "hi" }] },
        }),
        "invalid_value",
        "beta-content",
        "item.content[0].type",
      ],
    ];
    for (const [frame, code, eventId, param] of cases) {
      const mark = client.events.length;
      client.send(frame);
      const error = assertApiError(await client.waitForType("error", mark), code, eventId);
      assert.equal(error.param, param, `${code}: ${JSON.stringify(error)}`);
    }
    assert.equal(client.ofType("error")[1].error.message, "The 'type' field is missing.");

    // Seeding a resumed conversation: items chain by previous_item_id; the session still answers.
    let mark = client.events.length;
    client.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hi" }] },
    });
    client.send({
      type: "conversation.item.create",
      item: {
        id: "item_seed_2",
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: "Hello!" }],
      },
    });
    const added = [await client.waitForType("conversation.item.added", mark)];
    added.push(await client.waitForType("conversation.item.added", client.events.indexOf(added[0]) + 1));
    assert.equal(added[0].previous_item_id, null);
    assert.equal(added[1].previous_item_id, added[0].item.id);
    assert.equal(added[1].item.id, "item_seed_2");
    assert.equal(client.ofType("conversation.item.done").length, 2);
    mark = client.events.length;
    client.send({ type: "conversation.item.delete", item_id: "item_seed_2" });
    assert.equal((await client.waitForType("conversation.item.deleted", mark)).item_id, "item_seed_2");
    client.send({ type: "session.update", session: { type: "realtime", instructions: "Still here." } });
    await client.waitForType("session.updated", mark);

    const record = lastConnection(simulator);
    assert.equal(record.receivedBinaryFrames, 1);
    assert.equal(record.receivedEvents[0].type, null);
    assert.equal(record.receivedEvents[0].raw, "this is not json");
    assert.deepEqual(record.sentErrors.slice(0, 3), ["invalid_json", "invalid_event", "invalid_event"]);
  });
});

Deno.test("echo mode answers each append with one delta carrying the same base64", async () => {
  await withSimulator({ apiKeys: [key], mode: "echo" }, async ({ simulator, ws }) => {
    const client = ws({ headers: authHeader });
    await client.waitForType("session.created");
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const frame = crypto.getRandomValues(new Uint8Array(960));
      frame.set(new TextEncoder().encode(`frame-${i}`));
      const audio = encodeBase64(frame);
      sent.push(audio);
      client.send(
        i % 2
          ? { type: "input_audio_buffer.append", audio }
          : { type: "input_audio_buffer.append", event_id: `e${i}`, audio },
      );
    }
    // A frame in a non-canonical shape (escaped slashes, whitespace) takes the full parser, same answer.
    const odd = encodeBase64(new Uint8Array([0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa]));
    sent.push(odd);
    client.send(
      `{ "type": "input_audio_buffer.append", "audio": ${JSON.stringify(odd).replaceAll("/", "\\/")} }`,
    );
    await client.waitFor(
      "all echoes",
      () => client.ofType("response.output_audio.delta").length === sent.length,
    );
    const deltas = client.ofType("response.output_audio.delta");
    assert.deepEqual(deltas.map((d) => d.delta), sent);
    assert.ok(
      deltas.every((d) => d.response_id === deltas[0].response_id && d.item_id === deltas[0].item_id),
    );
    assert.match(deltas[0].response_id, /^resp_/);
    assert.match(deltas[0].item_id, /^item_/);
    assert.deepEqual(
      new Set(client.events.map((e) => e.type)),
      new Set(["session.created", "response.output_audio.delta"]),
    );
    const record = lastConnection(simulator);
    assert.equal(record.inputAudioBytes, 20 * 960 + 6);
    assert.equal(record.receivedEvents.length, 21);
    assert.equal(record.receivedEvents[0].eventId, "e0");
  });
});

Deno.test("the session expires after sessionMaxSeconds: session_expired, then close 1001", async () => {
  await withSimulator({ apiKeys: [key], sessionMaxSeconds: 0.3 }, async ({ simulator, builtin }) => {
    const client = builtin(["realtime", keyProtocol]);
    await client.waitForType("session.created");
    const closed = await client.closed;
    const error = assertApiError(client.events[client.events.length - 1], "session_expired");
    assert.equal(error.message, "Your session hit the maximum duration of 0.3 seconds.");
    assert.equal(sessionExpiredMessage(3600), "Your session hit the maximum duration of 60 minutes.");
    assert.deepEqual(closed, { code: 1001, reason: error.message });
    assert.deepEqual(await recordedClose(lastConnection(simulator)), {
      code: 1001,
      reason: error.message,
      by: "server",
    });
  });
});

Deno.test("connections are recorded and served; closeAll closes open sessions from the server", async () => {
  await withSimulator({ apiKeys: [key] }, async ({ simulator, ws, httpBase }) => {
    const seen: string[] = [];
    const unsubscribe = simulator.onConnection((record) => seen.push(record.id));
    const first = ws({ headers: authHeader });
    await first.waitForType("session.created");
    first.send({ type: "session.update", event_id: "s1", session: { type: "realtime", instructions: "Hi" } });
    await first.waitForType("session.updated");
    await first.close();
    const second = ws({ headers: authHeader });
    await second.waitForType("session.created");
    unsubscribe();

    const [one, two] = simulator.connections;
    assert.deepEqual(seen, [one.id, two.id]);
    assert.deepEqual(await recordedClose(one), { code: 1000, reason: "test done", by: "client" });
    assert.equal(one.receivedEvents.length, 1);
    assert.equal(one.receivedEvents[0].type, "session.update");
    assert.deepEqual(one.receivedEvents[0].event, {
      type: "session.update",
      event_id: "s1",
      session: { type: "realtime", instructions: "Hi" },
    });
    assert.equal(JSON.parse(one.receivedEvents[0].raw).event_id, "s1");
    assert.ok(one.url.endsWith("/v1/realtime?model=gpt-realtime"));
    assert.equal(one.headers["sec-websocket-version"], "13");

    const listing = await (await fetch(`${httpBase}/_simulator/connections`)).json();
    assert.equal(listing.connections.length, 2);
    assert.deepEqual(listing.connections[0].receivedEventTypes, ["session.update"]);
    assert.equal("receivedEvents" in listing.connections[0], false);
    assert.equal(listing.connections[1].closed, undefined);

    simulator.closeAll();
    assert.equal((await second.closed).code, 1001);
    assert.equal((await recordedClose(two)).by, "server");
    const notUpgraded = await fetch(`${httpBase}/v1/realtime?model=gpt-realtime`);
    assert.equal(notUpgraded.status, 426);
    await notUpgraded.body?.cancel();
  });
});

Deno.test("the official agents SDK transport completes a turn against the simulator", async () => {
  const { OpenAIRealtimeWebSocket } = await import("@openai/agents-realtime");
  await withSimulator({ apiKeys: [key], script: quickScript }, async ({ simulator, wsBase }) => {
    const transport = new OpenAIRealtimeWebSocket({ url: `${wsBase}/v1/realtime?model=gpt-realtime` });
    const errors: unknown[] = [];
    transport.on("error", (error) => errors.push(error));
    const audioBytes: number[] = [];
    transport.on("audio", (event) => audioBytes.push(event.data.byteLength));
    const turnDone = new Promise<{ response: { usage: { outputTokens: number } } }>((resolve) =>
      transport.on("turn_done", resolve)
    );
    await transport.connect({
      apiKey: key,
      model: "gpt-realtime",
      initialSessionConfig: { instructions: "Be brief." },
    });
    const audio = oneTurnAudio();
    for (let offset = 0; offset < audio.length; offset += 960) {
      transport.sendAudio(audio.slice(offset, offset + 960).buffer);
    }
    const done = await turnDone;
    assert.ok(done.response.usage.outputTokens > 0);
    assert.equal(audioBytes.reduce((a, b) => a + b, 0), quickScript[0].assistantAudioMs * 48);
    assert.deepEqual(errors, [], "the SDK's session.update and events raise no error");
    const record = lastConnection(simulator);
    assert.equal(record.authForm, "header");
    assert.equal(record.receivedEvents[0].type, "session.update");
    transport.close();
    await recordedClose(record);
  });
});
