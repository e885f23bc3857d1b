/**
 * Events the relay itself sends to clients: errors in the API's own shape (so every SDK shows them),
 * and `relay.`-prefixed notices that the official SDK clients ignore.
 *
 * @module
 */

let counter = 0;

/** An event id in the API's style, unique within this process. */
export function relayEventId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `event_relay_${Date.now().toString(36)}${counter.toString(36)}`;
}

/** Options for {@link relayErrorEvent}. */
export interface RelayErrorOptions {
  /** The error's `type`; the API uses `invalid_request_error` for bad client input, `server_error` otherwise. */
  type?: "invalid_request_error" | "server_error";
  /** The offending field, when there is one. */
  param?: string | null;
  /** The client event this error answers. */
  eventId?: string | null;
}

/** Serialises an `error` event in the OpenAI Realtime API's shape. */
export function relayErrorEvent(code: string, message: string, options: RelayErrorOptions = {}): string {
  return JSON.stringify({
    type: "error",
    event_id: relayEventId(),
    error: {
      type: options.type ?? "server_error",
      code,
      message,
      param: options.param ?? null,
      event_id: options.eventId ?? null,
    },
  });
}

/** Serialises a `relay.<name>` notice; clients that do not know it ignore it. */
export function relayNotice(name: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ type: `relay.${name}`, event_id: relayEventId(), ...fields });
}
