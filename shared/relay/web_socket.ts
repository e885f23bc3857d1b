/**
 * Adapts a standard (WHATWG) `WebSocket` to the relay's {@link RelaySocket}. Used for server sockets
 * from `Deno.upgradeWebSocket` and for upstream sockets dialed with the built-in `WebSocket` client.
 *
 * @module
 */
import type { DialRequest, FrameData, RelaySocket, SocketHandlers } from "../adapter.ts";

/** Close codes a standard `WebSocket.close()` accepts from application code. */
function isSendableCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999);
}

/**
 * Wires `handlers` to a standard WebSocket and returns the {@link RelaySocket} view of it.
 * `onOpen` fires when the socket opens (immediately when it is already open).
 */
export function wrapWebSocket(
  ws: WebSocket,
  handlers: SocketHandlers,
  opts: { serverSide: boolean },
): RelaySocket {
  ws.binaryType = "arraybuffer";
  let closed = false;
  const socket: RelaySocket = {
    send(data: FrameData) {
      ws.send(data);
    },
    close(code: number, reason: string) {
      if (ws.readyState >= WebSocket.CLOSING) return;
      // Server sockets (Deno.upgradeWebSocket) accept the protocol codes 1001/1011/1012/1013 the relay
      // uses; the standard client API only takes 1000 and 3000-4999, so a client falls back to 1000.
      const sendable = opts.serverSide || isSendableCloseCode(code) ? code : 1000;
      try {
        ws.close(sendable, truncateReason(reason));
      } catch {
        ws.close();
      }
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get isOpen() {
      return ws.readyState === WebSocket.OPEN;
    },
    ping() {
      return false;
    },
  };
  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    handlers.onClose(code, reason);
  };
  ws.addEventListener("message", (event: MessageEvent) => {
    const data = event.data;
    handlers.onPong?.();
    handlers.onMessage(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
  });
  ws.addEventListener("close", (event: CloseEvent) => finish(event.code, event.reason));
  ws.addEventListener("error", (event: Event) => {
    const message = (event as ErrorEvent).message || "WebSocket error";
    if (ws.readyState !== WebSocket.OPEN) finish(1006, message);
  });
  if (ws.readyState === WebSocket.OPEN) {
    queueMicrotask(() => handlers.onOpen(socket, ws.protocol));
  } else {
    ws.addEventListener("open", () => handlers.onOpen(socket, ws.protocol));
  }
  return socket;
}

/**
 * Dials with the runtime's built-in `WebSocket` client. Credentials can only travel in `protocols`
 * (Supabase's hosted Deno 2.1 throws on a headers option), so `request.headers` is ignored.
 */
export function dialBuiltinWebSocket(request: DialRequest, handlers: SocketHandlers): void {
  let ws: WebSocket;
  try {
    ws = new WebSocket(request.url, request.protocols);
  } catch (error) {
    queueMicrotask(() => handlers.onClose(1006, `Could not dial upstream: ${describeError(error)}`));
    return;
  }
  wrapWebSocket(ws, handlers, { serverSide: false });
}

/** Shortens a close reason to the 123 bytes the protocol allows, without splitting a character. */
export function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  let cut = 120;
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
  return new TextDecoder().decode(bytes.slice(0, cut)) + "...";
}

/** A one-line description of a thrown value for logs and close reasons. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
