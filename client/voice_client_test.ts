import assert from "node:assert/strict";
import { resolveVoiceEndpoint, VoiceClient, type VoiceState } from "./voice_client.ts";

// The client's audio and socket paths run in real Chromium (server/demo_browser_test.ts); this file
// covers what needs no browser and keeps the whole module graph type-checked by `deno test`.

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
