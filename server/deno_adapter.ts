/**
 * The Deno server's {@link RuntimeAdapter}: `Deno.upgradeWebSocket` for clients, `ws` for upstream
 * (measured faster than Deno's built-in client at audio frame rates; see README's bench table).
 *
 * @module
 */
import type { RuntimeAdapter, SocketHandlers } from "../shared/adapter.ts";
import { dialBuiltinWebSocket } from "../shared/relay/web_socket.ts";
import { upgradeDenoWebSocket } from "./deno_upgrade.ts";
import { dialWs } from "./ws_socket.ts";

/** Options for {@link createDenoAdapter}. */
export interface DenoAdapterOptions {
  /** Seconds without traffic after which Deno pings the client and drops it if no pong follows. */
  idleTimeoutSeconds: number;
  /** `ws` (default) or Deno's built-in `WebSocket` client for the upstream socket. */
  upstreamDialer?: "ws" | "builtin";
}

/** Builds the adapter for a `Deno.serve` process. */
export function createDenoAdapter(options: DenoAdapterOptions): RuntimeAdapter {
  return {
    runtime: "deno",
    upstreamAuth: options.upstreamDialer === "builtin" ? "subprotocol" : "header",
    upgradeWebSocket(c, protocol, handlers: SocketHandlers) {
      return upgradeDenoWebSocket(c.req.raw, protocol, handlers, options.idleTimeoutSeconds).response;
    },
    dialWebSocket: options.upstreamDialer === "builtin" ? dialBuiltinWebSocket : dialWs,
    keepAlive() {},
    now: Date.now,
  };
}
