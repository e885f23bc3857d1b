/**
 * `Deno.upgradeWebSocket` with the relay's own subprotocol choice. Used by the Deno server and the
 * Supabase Edge Function (which imports it from here; it needs nothing beyond Deno itself).
 *
 * @module
 */
import type { RelaySocket, SocketHandlers } from "../shared/adapter.ts";
import { wrapWebSocket } from "../shared/relay/web_socket.ts";

/**
 * Upgrades `request`, selecting `protocol`. Deno matches the protocol against the offered list split
 * on ", " (what browsers send); clients that join with a bare "," (npm `ws`) would be refused, so for
 * them the header is set on the response instead. Deno 2.1 (Supabase's hosted runtime) keeps that
 * response immutable: there such a client gets no subprotocol, and README says so.
 */
export function upgradeDenoWebSocket(
  request: Request,
  protocol: string | undefined,
  handlers: SocketHandlers,
  idleTimeoutSeconds: number,
): { response: Response; socket: RelaySocket } {
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(", ");
  const matches = protocol !== undefined && offered.includes(protocol);
  const { socket, response } = Deno.upgradeWebSocket(request, {
    protocol: matches ? protocol : undefined,
    idleTimeout: idleTimeoutSeconds,
  });
  if (protocol !== undefined && !matches) {
    try {
      response.headers.set("sec-websocket-protocol", protocol);
    } catch {
      // Deno 2.1: immutable upgrade response; see the doc comment.
    }
  }
  return { response, socket: wrapWebSocket(socket, handlers, { serverSide: true }) };
}
