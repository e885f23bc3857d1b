/**
 * The benchmark's upstream: the OpenAI Realtime simulator in echo mode, as its own Deno process, with
 * event recording off (the CLI simulator keeps up to 5000 events per connection, ~1.5 KB each, which at
 * hundreds of streaming sessions costs gigabytes and load-core CPU that would distort the measurement).
 *
 *   deno run -A server/bench/echo_upstream.ts --key sk-bench [--port 0]
 *
 * Prints `{"url":"ws://127.0.0.1:PORT/v1/realtime"}` once listening; SIGTERM/SIGINT stop it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createRealtimeSimulator } from "../../shared/simulator/realtime_simulator.ts";
import { createDenoAdapter } from "../deno_adapter.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string", default: "0" }, key: { type: "string" } },
});
if (!values.key) {
  console.error("server/bench/echo_upstream.ts: --key is required (the API key clients must present)");
  Deno.exit(2);
}

const simulator = createRealtimeSimulator({
  adapter: createDenoAdapter({ idleTimeoutSeconds: 30 }),
  apiKeys: [values.key],
  mode: "echo",
  maxRecordedEvents: 0,
  maxRecordedConnections: 10,
});
const server = Deno.serve({
  port: Number(values.port),
  hostname: "127.0.0.1",
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
