/**
 * Test support: the OpenAI Realtime simulator served in the test process on a free loopback port, as
 * the upstream of the relay processes under test.
 *
 * @module
 */
import {
  createRealtimeSimulator,
  type RealtimeSimulator,
  type RealtimeSimulatorOptions,
} from "../../shared/simulator/realtime_simulator.ts";
import { createDenoAdapter } from "../deno_adapter.ts";

/** A listening simulator. */
export interface SimulatorServer {
  simulator: RealtimeSimulator;
  /** `ws://127.0.0.1:<port>/v1/realtime`: the relay's `OPENAI_REALTIME_URL`. */
  url: string;
  /** Closes every simulated session and stops listening; safe to call more than once. */
  close(): Promise<void>;
}

/** Serves a simulator with `options` (the Deno adapter is supplied). */
export function startSimulatorServer(options: Omit<RealtimeSimulatorOptions, "adapter">): SimulatorServer {
  const simulator = createRealtimeSimulator({
    adapter: createDenoAdapter({ idleTimeoutSeconds: 30 }),
    ...options,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, simulator.app.fetch);
  let closed: Promise<void> | undefined;
  return {
    simulator,
    url: `ws://127.0.0.1:${server.addr.port}/v1/realtime`,
    close() {
      closed ??= (async () => {
        simulator.closeAll();
        await server.shutdown();
      })();
      return closed;
    },
  };
}
