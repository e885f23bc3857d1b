/**
 * The Realtime API's WebSocket handshake as the simulator judges it: where the key came from (header or
 * `openai-insecure-api-key.` subprotocol), whether the retired beta shape was asked for, which model,
 * and the subprotocol to select (`realtime`, never anything carrying the key).
 *
 * Refusals follow what the live API was seen to do: the upgrade succeeds, an `error` event explains, and
 * the server closes with the reason `<error.type>.<error.code>`: code 3000 for a bad key (observed:
 * "received 3000 (registered) invalid_request_error.invalid_api_key"), 4000 for the beta shape (observed:
 * "received 4000 ... invalid_request_error.beta_api_shape_disabled") and, by analogy, for a bad model.
 *
 * @module
 */
import { type ApiError, apiError } from "./api_error.ts";

/** How the client presented its key. */
export type AuthForm = "header" | "subprotocol" | "none";

/** Why a connection is refused, and how it is closed. */
export interface HandshakeRefusal {
  error: ApiError;
  closeCode: number;
  closeReason: string;
}

/** The outcome of {@link judgeHandshake}. */
export interface HandshakeVerdict {
  authForm: AuthForm;
  /** Subprotocols the client offered, with any key redacted. */
  offeredProtocols: string[];
  /** The subprotocol to select: `realtime` when offered, else none. */
  selectedProtocol: string | undefined;
  model: string | null;
  refusal: HandshakeRefusal | null;
}

const keyProtocolPrefix = "openai-insecure-api-key.";
const betaProtocol = "openai-beta.realtime-v1";
/** Stands in for a key in everything the simulator records or serves. */
export const redactedKey = "[REDACTED]";

/** Close code the API uses for authentication failures. */
export const authFailureCloseCode = 3000;
/** Close code the API uses for other refused requests. */
export const invalidRequestCloseCode = 4000;

function refuse(error: ApiError, closeCode: number): HandshakeRefusal {
  return { error, closeCode, closeReason: `${error.type}.${error.code}` };
}

/** Masks a key the way the API quotes a wrong one: a few characters at each end. */
function maskKey(key: string): string {
  if (key.length < 12) return "*".repeat(Math.max(3, key.length));
  return `${key.slice(0, 3)}${"*".repeat(Math.min(20, key.length - 7))}${key.slice(-4)}`;
}

/** The subprotocols offered in `Sec-WebSocket-Protocol`, in order. */
export function offeredProtocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol");
  if (!header) return [];
  return header.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Replaces the key inside an `openai-insecure-api-key.<key>` subprotocol. */
export function redactProtocol(protocol: string): string {
  return protocol.startsWith(keyProtocolPrefix) ? keyProtocolPrefix + redactedKey : protocol;
}

/** Request headers, lower-cased, with the key (Authorization, key subprotocol) redacted. */
export function redactedHeaders(request: Request): Record<string, string> {
  const out: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    const key = name.toLowerCase();
    if (key === "authorization") {
      const scheme = value.match(/^(\S+)\s+/)?.[1];
      out[key] = scheme ? `${scheme} ${redactedKey}` : redactedKey;
    } else if (key === "sec-websocket-protocol") {
      out[key] = value.split(",").map((p) => redactProtocol(p.trim())).join(", ");
    } else {
      out[key] = value;
    }
  });
  return out;
}

/** Decides how to answer an upgrade request, as the Realtime API would. */
export function judgeHandshake(
  request: Request,
  accepted: { apiKeys: readonly string[]; models: readonly string[] },
): HandshakeVerdict {
  const protocols = offeredProtocols(request);
  const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
  const protocolKey = protocols.find((p) => p.startsWith(keyProtocolPrefix))?.slice(keyProtocolPrefix.length);
  const key = bearer ?? protocolKey;
  const authForm: AuthForm = bearer !== undefined
    ? "header"
    : protocolKey !== undefined
    ? "subprotocol"
    : "none";
  const model = new URL(request.url).searchParams.get("model");
  const verdict: HandshakeVerdict = {
    authForm,
    offeredProtocols: protocols.map(redactProtocol),
    selectedProtocol: protocols.includes("realtime") ? "realtime" : undefined,
    model,
    refusal: null,
  };
  if (key === undefined || key === "") {
    verdict.refusal = refuse(
      apiError(
        "invalid_api_key",
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer " +
          "auth (i.e. Authorization: Bearer YOUR_KEY), or in the 'openai-insecure-api-key.' WebSocket subprotocol.",
      ),
      authFailureCloseCode,
    );
  } else if (!accepted.apiKeys.includes(key)) {
    verdict.refusal = refuse(
      apiError(
        "invalid_api_key",
        `Incorrect API key provided: ${maskKey(key)}. You can find your API key at ` +
          "https://platform.openai.com/account/api-keys.",
      ),
      authFailureCloseCode,
    );
  } else if (
    /(^|[,\s])realtime=v1\b/.test(request.headers.get("openai-beta") ?? "") ||
    protocols.includes(betaProtocol)
  ) {
    verdict.refusal = refuse(
      apiError(
        "beta_api_shape_disabled",
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
      ),
      invalidRequestCloseCode,
    );
  } else if (!model) {
    verdict.refusal = refuse(
      apiError("missing_required_parameter", "Missing required parameter: 'model'.", { param: "model" }),
      invalidRequestCloseCode,
    );
  } else if (!accepted.models.includes(model)) {
    verdict.refusal = refuse(
      apiError("model_not_found", `The model '${model}' does not exist or you do not have access to it.`, {
        param: "model",
      }),
      invalidRequestCloseCode,
    );
  }
  return verdict;
}
