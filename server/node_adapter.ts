/**
 * The Node fallback's {@link RuntimeAdapter}: `ws` for both the client sockets and the upstream dial.
 *
 * HTTP requests go through `@hono/node-server`; WebSocket upgrades are routed through the same Hono
 * app by {@link attachUpgrades}, which lets the relay choose the subprotocol per request (Hono's own
 * helper echoes the first offered one, which may be the client's token).
 *
 * @module
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";
import { WebSocketServer } from "ws";
import type { RuntimeAdapter, SocketHandlers } from "../shared/adapter.ts";
import { dialWs, wrapWsSocket } from "./ws_socket.ts";

/** What the upgrade listener hands to the Hono app as `c.env`. */
interface UpgradeBindings {
  incoming: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  upgraded: boolean;
}

/** The adapter plus the hook that routes a server's upgrades through a Hono app. */
export interface NodeRuntime {
  adapter: RuntimeAdapter;
  /** Sends `server`'s WebSocket upgrade requests through `fetch` (the Hono app's). */
  attachUpgrades(
    server: Server,
    fetch: (request: Request, env: unknown) => Response | Promise<Response>,
  ): void;
}

/** Builds the Node adapter; `runtime` is "node" for the Node fallback. */
export function createNodeRuntime(): NodeRuntime {
  const selectedProtocol = new WeakMap<IncomingMessage, string | false>();
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (_offered, request) => selectedProtocol.get(request) ?? false,
  });

  const adapter: RuntimeAdapter = {
    runtime: "node",
    upstreamAuth: "header",
    upgradeWebSocket(c, protocol, handlers: SocketHandlers) {
      const env = c.env as UpgradeBindings | undefined;
      if (!env?.incoming || !env.socket) {
        return new Response("WebSocket upgrade unavailable", { status: 500 });
      }
      selectedProtocol.set(env.incoming, protocol ?? false);
      env.upgraded = true;
      wss.handleUpgrade(env.incoming, env.socket, env.head, (ws) => {
        wrapWsSocket(ws, handlers);
      });
      // The socket now belongs to `ws`; the listener below ignores this placeholder.
      return new Response(null, { status: 200 });
    },
    dialWebSocket: dialWs,
    keepAlive() {},
    now: Date.now,
  };

  const attachUpgrades: NodeRuntime["attachUpgrades"] = (server, fetch) => {
    server.on("upgrade", async (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy());
      const env: UpgradeBindings = { incoming, socket, head, upgraded: false };
      let response: Response;
      try {
        response = await fetch(toRequest(incoming), env);
      } catch {
        response = new Response(null, { status: 500 });
      }
      if (env.upgraded || socket.destroyed) return;
      const body = Buffer.from(await response.arrayBuffer());
      const lines = [
        `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}`,
        "Connection: close",
      ];
      response.headers.forEach((value, key) => {
        if (key !== "content-length" && key !== "connection") lines.push(`${key}: ${value}`);
      });
      lines.push(`Content-Length: ${body.length}`);
      socket.end(Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n"), body]));
    });
    server.on("close", () => wss.close());
  };

  return { adapter, attachUpgrades };
}

/** A web `Request` for an upgrade: URL and headers only, no body. */
function toRequest(incoming: IncomingMessage): Request {
  const headers = new Headers();
  for (const [key, value] of Object.entries(incoming.headers)) {
    if (value === undefined) continue;
    headers.set(key, Array.isArray(value) ? value.join(", ") : value);
  }
  const host = incoming.headers.host ?? "localhost";
  return new Request(new URL(incoming.url ?? "/", `http://${host}`), { headers });
}
