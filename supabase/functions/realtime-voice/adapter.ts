/**
 * The Supabase Edge Function's {@link RuntimeAdapter}. The hosted runtime is Deno 2.1: the built-in
 * WebSocket client cannot send headers there, so the key travels as a subprotocol; after the upgrade
 * the request counts as finished, so `EdgeRuntime.waitUntil` keeps the worker alive until the session ends.
 *
 * @module
 */
import type { RuntimeAdapter } from "../../../shared/adapter.ts";
import { dialBuiltinWebSocket } from "../../../shared/relay/web_socket.ts";
import { upgradeDenoWebSocket } from "../../../server/deno_upgrade.ts";

declare const EdgeRuntime: { waitUntil(promise: Promise<unknown>): void } | undefined;

/** Builds the edge adapter. */
export function createEdgeAdapter(): RuntimeAdapter {
  return {
    runtime: "supabase-edge",
    upstreamAuth: "subprotocol",
    upgradeWebSocket(c, protocol, handlers) {
      return upgradeDenoWebSocket(c.req.raw, protocol, handlers, 30).response;
    },
    dialWebSocket: dialBuiltinWebSocket,
    keepAlive(work) {
      if (typeof EdgeRuntime !== "undefined") EdgeRuntime.waitUntil(work);
    },
    now: Date.now,
  };
}
