// Test support (Node): runs one full turn through a relay with the published @openai/agents-realtime
// WebSocket transport, exactly as an app on Node would: `url` is the relay, the key is the user's JWT.
// Usage: node server/testing/agents_sdk_turn.mjs <relay-ws-url> <user-jwt>
// Prints one JSON line: { ok, events, userTranscript, assistantTranscript, audioBytes, error }.
import { OpenAIRealtimeWebSocket } from "@openai/agents-realtime";

const [url, token] = process.argv.slice(2);
const events = [];
let audioBytes = 0;
let userTranscript = "";
let assistantTranscript = "";

function tone(ms, frequency) {
  const samples = Math.round((24000 * ms) / 1000);
  const pcm = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    pcm[i] = Math.round(Math.sin((2 * Math.PI * frequency * i) / 24000) * 8000);
  }
  return pcm.buffer;
}

const result = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve({ ok: false, error: "timed out waiting for response.done" }), 20000);
  const transport = new OpenAIRealtimeWebSocket({ url });
  transport.on("*", (event) => {
    events.push(event.type);
    if (event.type === "response.output_audio.delta") audioBytes += Buffer.from(event.delta, "base64").length;
    if (event.type === "conversation.item.input_audio_transcription.completed") {
      userTranscript = event.transcript;
    }
    if (event.type === "response.output_audio_transcript.done") assistantTranscript = event.transcript;
    if (event.type === "response.done") {
      clearTimeout(timer);
      transport.close();
      resolve({ ok: true });
    }
  });
  transport.on("error", (error) => events.push(`transport-error:${JSON.stringify(error).slice(0, 200)}`));
  transport
    .connect({ apiKey: token, model: "gpt-realtime", url })
    .then(() => {
      transport.sendAudio(tone(800, 440), { commit: false });
      transport.sendAudio(new ArrayBuffer(24000), { commit: false }); // 500 ms of silence ends the turn
      transport.sendAudio(new ArrayBuffer(24000), { commit: false });
    })
    .catch((error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: String(error?.message ?? error) });
    });
});

console.log(JSON.stringify({ ...result, events, userTranscript, assistantTranscript, audioBytes }));
process.exit(0);
