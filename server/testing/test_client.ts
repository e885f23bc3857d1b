/**
 * Test support: a WebSocket client that records every event and lets a test wait for one. Without
 * headers it is the runtime's standard `WebSocket` (offering subprotocols exactly as browsers do);
 * with headers it is npm `ws`, as server-side SDKs connect.
 *
 * @module
 */
import WebSocket from "ws";

/** A parsed server event. */
export type ServerEvent = { type: string; [key: string]: unknown };

/** How the connection ended. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** Options for {@link TestClient.connect}. */
export interface ConnectOptions {
  protocols?: string[];
  headers?: Record<string, string>;
}

/** A recording client. */
export class TestClient {
  readonly events: ServerEvent[] = [];
  readonly binaryFrames: Uint8Array[] = [];
  readonly closed: Promise<CloseInfo>;
  private resolveClosed!: (info: CloseInfo) => void;
  private waiters: Array<{ match: (e: ServerEvent) => boolean; resolve: (e: ServerEvent) => void }> = [];

  private constructor(private readonly socket: WebSocket | globalThis.WebSocket) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  private receive(data: string | Uint8Array): void {
    if (typeof data !== "string") {
      this.binaryFrames.push(data);
      return;
    }
    const event = JSON.parse(data) as ServerEvent;
    this.events.push(event);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(event)) return true;
      w.resolve(event);
      return false;
    });
  }

  /** Opens a connection; resolves once open, or once closed if the handshake or the relay refused it. */
  static connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    if (options.headers) {
      const ws = new WebSocket(url, options.protocols ?? [], {
        headers: options.headers,
        perMessageDeflate: false,
      });
      const client = new TestClient(ws);
      ws.on("close", (code, reason) => client.resolveClosed({ code, reason: reason.toString() }));
      ws.on("error", () => {});
      ws.on(
        "message",
        (data, isBinary) => client.receive(isBinary ? new Uint8Array(data as Buffer) : data.toString()),
      );
      return new Promise((resolve) => {
        ws.once("open", () => resolve(client));
        ws.once("close", () => resolve(client));
      });
    }
    const ws = new globalThis.WebSocket(url, options.protocols ?? []);
    ws.binaryType = "arraybuffer";
    const client = new TestClient(ws);
    ws.onmessage = (e) => client.receive(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    ws.onclose = (e) => client.resolveClosed({ code: e.code, reason: e.reason });
    ws.onerror = () => {};
    return new Promise((resolve) => {
      ws.addEventListener("open", () => resolve(client));
      ws.addEventListener("close", () => resolve(client));
    });
  }

  /** The subprotocol the server selected ("" for none). */
  get protocol(): string {
    return this.socket.protocol;
  }

  /** Sends an object as JSON, or a raw string/bytes frame. */
  send(data: Record<string, unknown> | string | Uint8Array): void {
    this.socket.send(typeof data === "string" || data instanceof Uint8Array ? data : JSON.stringify(data));
  }

  /** Resolves with the first event (already received or future) of `type` matching `predicate`. */
  waitFor(
    type: string,
    timeoutMs = 15_000,
    predicate: (e: ServerEvent) => boolean = () => true,
  ): Promise<ServerEvent> {
    const match = (e: ServerEvent) => e.type === type && predicate(e);
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.closed.then((info) => {
        if (this.waiters.some((w) => w.resolve === done)) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w.resolve !== done);
          reject(
            new Error(
              `closed (${info.code} ${info.reason}) before ${type}; got: ${
                this.events.map((e) => e.type).join(", ")
              }`,
            ),
          );
        }
      });
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(`no ${type} within ${timeoutMs} ms; got: ${this.events.map((e) => e.type).join(", ")}`),
        );
      }, timeoutMs);
      const done = (e: ServerEvent) => {
        clearTimeout(timer);
        resolve(e);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  /** Closes (if open) and waits for the close to finish. */
  async close(code = 1000, reason = "test done"): Promise<CloseInfo> {
    if (this.socket.readyState <= 1) this.socket.close(code, reason);
    return await this.closed;
  }
}
