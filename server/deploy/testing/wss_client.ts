/**
 * Test support: a recording WebSocket client for `wss://` through nginx, trusting only the test's own
 * certificate (real TLS verification, no `rejectUnauthorized: false`). Records every event, the
 * handshake's HTTP status when it was refused before the upgrade (429 from nginx's limit, 502), and
 * how the socket closed.
 *
 * @module
 */
import WebSocket from "ws";

/** A parsed server event. */
export type ServerEvent = { type: string; [key: string]: unknown };

/** How the connection ended: a close code, or the HTTP status of a refused handshake (code 0). */
export interface WssClose {
  code: number;
  reason: string;
  /** The HTTP status when the handshake was answered without an upgrade. */
  httpStatus?: number;
}

/** Options for {@link WssClient.connect}. */
export interface WssConnectOptions {
  protocols?: string[];
  headers?: Record<string, string>;
  /** PEM of the only CA to trust. */
  ca: string;
}

/** A recording client. */
export class WssClient {
  readonly events: ServerEvent[] = [];
  /** Resolves once the socket is closed or the handshake failed. */
  readonly closed: Promise<WssClose>;
  private resolveClosed!: (info: WssClose) => void;
  private waiters: Array<{ match: (e: ServerEvent) => boolean; resolve: (e: ServerEvent) => void }> = [];
  private listeners = new Set<(event: ServerEvent) => void>();
  private finished = false;
  /** True once the upgrade succeeded. */
  opened = false;

  private constructor(private readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  private finish(info: WssClose): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveClosed(info);
  }

  /** Opens a connection; resolves once open, or once the handshake or the relay refused it. */
  static connect(url: string, options: WssConnectOptions): Promise<WssClient> {
    const socket = new WebSocket(url, options.protocols ?? [], {
      ca: options.ca,
      headers: options.headers,
      perMessageDeflate: false,
      handshakeTimeout: 15_000,
    });
    const client = new WssClient(socket);
    socket.on("message", (data, isBinary) => {
      if (isBinary) return;
      const event = JSON.parse(data.toString()) as ServerEvent;
      client.events.push(event);
      for (const listener of client.listeners) listener(event);
      client.waiters = client.waiters.filter((w) => {
        if (!w.match(event)) return true;
        w.resolve(event);
        return false;
      });
    });
    socket.on("unexpected-response", (_request, response) => {
      response.resume();
      client.finish({ code: 0, reason: response.statusMessage ?? "", httpStatus: response.statusCode });
      socket.terminate();
    });
    socket.on("close", (code, reason) => client.finish({ code, reason: reason.toString() }));
    socket.on("error", (error) => client.finish({ code: 0, reason: error.message }));
    return new Promise((resolve) => {
      socket.once("open", () => {
        client.opened = true;
        resolve(client);
      });
      client.closed.then(() => resolve(client));
    });
  }

  /** The subprotocol the server selected ("" for none). */
  get protocol(): string {
    return this.socket.protocol;
  }

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends an object as JSON (dropped if the socket is no longer open: the relay closed it). */
  send(event: Record<string, unknown>): void {
    if (this.isOpen) this.socket.send(JSON.stringify(event));
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe. */
  subscribe(listener: (event: ServerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events of `type` received so far. */
  count(type: string): number {
    return this.events.filter((e) => e.type === type).length;
  }

  /**
   * Resolves with the first event (already received or future) of `type` matching `predicate`;
   * rejects when the socket closes first or after `timeoutMs`.
   */
  waitFor(
    type: string,
    timeoutMs = 15_000,
    predicate: (e: ServerEvent) => boolean = () => true,
  ): Promise<ServerEvent> {
    const match = (e: ServerEvent) => e.type === type && predicate(e);
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const pending: { timer?: ReturnType<typeof setTimeout> } = {};
      const done = (e: ServerEvent) => {
        clearTimeout(pending.timer);
        resolve(e);
      };
      const fail = (why: string) => {
        clearTimeout(pending.timer);
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`${why} before ${type}; got: ${this.events.map((e) => e.type).join(", ")}`));
      };
      pending.timer = setTimeout(() => fail(`nothing within ${timeoutMs} ms`), timeoutMs);
      this.waiters.push({ match, resolve: done });
      this.closed.then((info) => {
        if (this.waiters.some((w) => w.resolve === done)) fail(`closed (${info.code} ${info.reason})`);
      });
    });
  }

  /** Closes (if open) and waits for the close to finish. */
  async close(code = 1000, reason = "test done"): Promise<WssClose> {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) {
      this.socket.close(code, reason);
    }
    const timer = setTimeout(() => this.socket.terminate(), 5000);
    const info = await this.closed;
    clearTimeout(timer);
    return info;
  }
}
