/**
 * The OpenAI Realtime simulator as its own process, for people and for tests that drive a relay in
 * another process:
 *
 *   deno run -A server/simulator.ts --port 0 --key sk-test --mode echo [--realtime-pacing]
 *     [--session-max-seconds 3600] [--audio-chunk-ms 100] [--host 127.0.0.1]
 *     [--max-recorded-events 5000] [--max-recorded-connections 100]
 *
 * The benchmark runs it with `--mode echo --max-recorded-events 0`: recording every append of hundreds
 * of streaming sessions would cost gigabytes and load-core CPU that would distort the measurement.
 *
 * Prints one JSON line `{"url":"ws://HOST:PORT/v1/realtime"}` on stdout once listening. `--key` may be
 * repeated. SIGTERM/SIGINT close every session and exit.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createRealtimeSimulator } from "../shared/simulator/realtime_simulator.ts";
import { createDenoAdapter } from "./deno_adapter.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    key: { type: "string", multiple: true },
    mode: { type: "string", default: "conversation" },
    "realtime-pacing": { type: "boolean", default: false },
    "session-max-seconds": { type: "string" },
    "audio-chunk-ms": { type: "string" },
    "max-recorded-events": { type: "string" },
    "max-recorded-connections": { type: "string" },
  },
});

function fail(message: string): never {
  console.error(`server/simulator.ts: ${message}`);
  Deno.exit(2);
}

const keys = values.key ?? [];
if (keys.length === 0) fail("--key is required (the API key clients must present), e.g. --key sk-test");
if (values.mode !== "conversation" && values.mode !== "echo") {
  fail(`--mode must be conversation or echo, got ${values.mode}`);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, got ${values.port}`);
const optionalNumber = (name: string, raw: string | undefined) => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!(value > 0)) fail(`--${name} must be a positive number, got ${raw}`);
  return value;
};

const optionalCount = (name: string, raw: string | undefined) => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) fail(`--${name} must be a whole number, got ${raw}`);
  return value;
};

const simulator = createRealtimeSimulator({
  adapter: createDenoAdapter({ idleTimeoutSeconds: 30 }),
  apiKeys: keys,
  mode: values.mode,
  realtimePacing: values["realtime-pacing"],
  sessionMaxSeconds: optionalNumber("session-max-seconds", values["session-max-seconds"]),
  audioChunkMs: optionalNumber("audio-chunk-ms", values["audio-chunk-ms"]),
  maxRecordedEvents: optionalCount("max-recorded-events", values["max-recorded-events"]),
  maxRecordedConnections: optionalCount("max-recorded-connections", values["max-recorded-connections"]),
});

const server = Deno.serve({
  port,
  hostname: values.host,
  onListen: ({ hostname, port }) =>
    console.log(JSON.stringify({ url: `ws://${hostname}:${port}/v1/realtime` })),
}, simulator.app.fetch);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  simulator.closeAll();
  await server.shutdown();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
