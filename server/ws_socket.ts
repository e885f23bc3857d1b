/**
 * Adapts an `ws` (npm) socket to the relay's {@link RelaySocket}: the Node fallback's server and
 * client sockets, and the Deno server's upstream dialer (Deno's built-in client batches small frames,
 * adding ~20 ms per message at audio rates; `ws` does not).
 *
 * @module
 */
import WebSocket from "ws";
import type { DialRequest, RelaySocket, SocketHandlers } from "../shared/adapter.ts";
import { describeError, truncateReason } from "../shared/relay/web_socket.ts";

/** Wires `handlers` to an `ws` socket; `onOpen` fires at once when the socket is already open. */
export function wrapWsSocket(ws: WebSocket, handlers: SocketHandlers): RelaySocket {
  let closed = false;
  const socket: RelaySocket = {
    send(data) {
      ws.send(data);
    },
    close(code, reason) {
      if (ws.readyState >= WebSocket.CLOSING) return;
      try {
        ws.close(code, truncateReason(reason));
      } catch {
        ws.close(1000, truncateReason(reason));
      }
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    get isOpen() {
      return ws.readyState === WebSocket.OPEN;
    },
    ping() {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
      return true;
    },
  };
  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    handlers.onClose(code, reason);
  };
  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : data;
    handlers.onMessage(
      isBinary ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes.toString(),
    );
  });
  ws.on("pong", () => handlers.onPong?.());
  ws.on("close", (code: number, reason: Buffer) => finish(code, reason.toString()));
  ws.on("error", (error: Error) => {
    if (ws.readyState !== WebSocket.OPEN) finish(1006, describeError(error));
  });
  if (ws.readyState === WebSocket.OPEN) queueMicrotask(() => handlers.onOpen(socket, ws.protocol));
  else ws.on("open", () => handlers.onOpen(socket, ws.protocol));
  return socket;
}

/** Dials with `ws`: headers and subprotocols both supported; Nagle is off for small audio frames. */
export function dialWs(request: DialRequest, handlers: SocketHandlers): void {
  let ws: WebSocket;
  try {
    ws = new WebSocket(request.url, request.protocols, {
      headers: request.headers,
      perMessageDeflate: false,
      handshakeTimeout: 15_000,
    });
  } catch (error) {
    queueMicrotask(() => handlers.onClose(1006, `Could not dial upstream: ${describeError(error)}`));
    return;
  }
  wrapWsSocket(ws, handlers);
}
