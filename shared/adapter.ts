/**
 * The one seam between the relay core and the runtime it runs on.
 *
 * Everything runtime-specific (turning a request into a server socket, dialing the upstream socket,
 * keeping an edge invocation alive) reaches `shared/` through a {@link RuntimeAdapter}. The core only
 * ever sees {@link RelaySocket}s, whatever socket implementation sits underneath.
 *
 * @module
 */
import type { Context } from "hono";

/** Which deployment the relay is running as; reported by `/health` and on every session row. */
export type RuntimeName = "deno" | "node" | "supabase-edge";

/** A payload as it crossed the wire: text frames are strings, binary frames are bytes. */
export type FrameData = string | Uint8Array;

/** An open WebSocket, reduced to what the relay needs, the same on every runtime. */
export interface RelaySocket {
  /** Sends one frame; strings go as text frames, bytes as binary frames. */
  send(data: FrameData): void;
  /** Starts the closing handshake. Codes outside what the runtime allows are mapped by the implementation. */
  close(code: number, reason: string): void;
  /** Bytes queued by the runtime but not yet written to the network. */
  readonly bufferedAmount: number;
  /** True while frames can still be sent. */
  readonly isOpen: boolean;
  /**
   * Sends a protocol-level ping. Returns false when the runtime offers no ping API, in which case the
   * runtime keeps the connection alive itself (e.g. Deno's `idleTimeout`) or not at all.
   */
  ping(): boolean;
}

/** Callbacks a socket owner receives. `onClose` is called exactly once, also after errors. */
export interface SocketHandlers {
  /** The socket is open; for a dialed socket `protocol` is what the server selected. */
  onOpen(socket: RelaySocket, protocol: string): void;
  /** One frame arrived. */
  onMessage(data: FrameData): void;
  /** The socket closed (or failed to open: then code is 1006 and reason says why). */
  onClose(code: number, reason: string): void;
  /** A pong (or any sign of life the runtime reports) arrived. */
  onPong?(): void;
}

/** How to reach the upstream socket. */
export interface DialRequest {
  url: string;
  /** Subprotocols to offer. */
  protocols: string[];
  /** Extra handshake headers; runtimes that cannot send headers ignore them (use `protocols` for auth). */
  headers: Record<string, string>;
}

/** Runtime services the relay core needs. Built by each entry point (`server/`, `supabase/functions/`). */
export interface RuntimeAdapter {
  readonly runtime: RuntimeName;
  /** How {@link dialWebSocket} can carry the upstream key: `header` only where the dialer sends headers. */
  readonly upstreamAuth: "header" | "subprotocol";
  /**
   * Completes a WebSocket upgrade of the request in `c`, selecting `protocol` (or none), and wires the
   * handlers to the resulting socket. Returns the response the Hono handler must return.
   */
  upgradeWebSocket(
    c: Context,
    protocol: string | undefined,
    handlers: SocketHandlers,
  ): Response | Promise<Response>;
  /** Opens an outgoing WebSocket; failures surface as `onClose(1006, reason)`, never as a throw. */
  dialWebSocket(request: DialRequest, handlers: SocketHandlers): void;
  /** Keeps the runtime alive until `work` settles (Supabase's `EdgeRuntime.waitUntil`); no-op elsewhere. */
  keepAlive(work: Promise<unknown>): void;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now(): number;
}
