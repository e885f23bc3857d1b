/**
 * Test support: wraps a {@link RuntimeAdapter} so that every socket the simulator accepts is recorded in
 * full, audio included (the simulator's own records cut appends to a short prefix): the PCM the relay
 * delivered upstream, every other client event, and the assistant audio sent per item.
 *
 * @module
 */
import type { FrameData, RelaySocket, RuntimeAdapter, SocketHandlers } from "../../shared/adapter.ts";
import { decodePcm16, type Pcm } from "./speech_audio.ts";

/** A parsed Realtime event. */
export type TappedEvent = { type: string; [field: string]: unknown };

/** One upstream socket as the simulator saw it. */
export class TappedConnection {
  /** Decoded audio of every `input_audio_buffer.append`, in order. */
  readonly appends: Uint8Array[] = [];
  /** Client events other than appends. */
  readonly clientEvents: TappedEvent[] = [];
  /** Server events other than audio deltas. */
  readonly serverEvents: TappedEvent[] = [];
  /** Assistant audio bytes sent per item id. */
  readonly audioBytesSent = new Map<string, number>();
  closed = false;

  /** Everything appended so far, as 24 kHz samples. */
  inputAudio(): Pcm {
    const total = this.appends.reduce((n, a) => n + a.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const a of this.appends) {
      bytes.set(a, at);
      at += a.length;
    }
    return decodePcm16(bytes, 24_000);
  }

  /** Milliseconds of assistant audio sent for `itemId` (24 kHz PCM16). */
  audioMsSent(itemId: string): number {
    return (this.audioBytesSent.get(itemId) ?? 0) / 48;
  }

  wrap(handlers: SocketHandlers): SocketHandlers {
    return {
      ...handlers,
      onOpen: (socket: RelaySocket, protocol: string) => handlers.onOpen(this.wrapSocket(socket), protocol),
      onMessage: (data: FrameData) => {
        this.recordClientFrame(data);
        handlers.onMessage(data);
      },
      onClose: (code: number, reason: string) => {
        this.closed = true;
        handlers.onClose(code, reason);
      },
    };
  }

  private wrapSocket(socket: RelaySocket): RelaySocket {
    const record = (data: string) => this.recordServerFrame(data);
    return {
      send(data: FrameData) {
        if (typeof data === "string") record(data);
        socket.send(data);
      },
      close: (code: number, reason: string) => socket.close(code, reason),
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      get isOpen() {
        return socket.isOpen;
      },
      ping: () => socket.ping(),
    };
  }

  private recordClientFrame(data: FrameData): void {
    if (typeof data !== "string") return;
    const event = JSON.parse(data) as TappedEvent;
    if (event.type === "input_audio_buffer.append" && typeof event.audio === "string") {
      this.appends.push(Uint8Array.from(atob(event.audio), (c) => c.charCodeAt(0)));
    } else {
      this.clientEvents.push(event);
    }
  }

  private recordServerFrame(data: string): void {
    const event = JSON.parse(data) as TappedEvent;
    if (event.type === "response.output_audio.delta" && typeof event.delta === "string") {
      const itemId = String(event.item_id);
      this.audioBytesSent.set(itemId, (this.audioBytesSent.get(itemId) ?? 0) + atob(event.delta).length);
    } else {
      this.serverEvents.push(event);
    }
  }
}

/** Records every socket accepted through the adapter it wraps. */
export class UpstreamTap {
  readonly connections: TappedConnection[] = [];

  /** The adapter to hand to `createRealtimeSimulator`. */
  wrap(adapter: RuntimeAdapter): RuntimeAdapter {
    return {
      ...adapter,
      upgradeWebSocket: (c, protocol, handlers) => {
        const connection = new TappedConnection();
        this.connections.push(connection);
        return adapter.upgradeWebSocket(c, protocol, connection.wrap(handlers));
      },
    };
  }
}
