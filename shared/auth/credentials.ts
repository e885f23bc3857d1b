/**
 * Where a client's Supabase access token comes from, and which subprotocol the relay answers with.
 *
 * Browsers cannot set headers on a WebSocket, so the token usually rides in the subprotocol list.
 * Order of precedence: subprotocol (`openai-insecure-api-key.<jwt>`, `jwt-<jwt>`), then
 * `Authorization: Bearer`, then `?token=` / `?jwt=` (kept for the seed clients; these land in proxy
 * logs, so the relay itself never logs URLs with their query).
 *
 * @module
 */

/** How the credential reached the relay; logged and counted, never the token itself. */
export type CredentialCarrier = "subprotocol" | "header" | "query";

/** A token and the carrier it came in. */
export interface Credential {
  token: string;
  carrier: CredentialCarrier;
}

const openaiKeyPrefix = "openai-insecure-api-key.";
const supabaseJwtPrefix = "jwt-";
// Subprotocols that carry a secret or select the retired beta shape: never echoed, never forwarded.
const unselectablePrefixes = [
  openaiKeyPrefix,
  supabaseJwtPrefix,
  "openai-beta.",
  "openai-organization.",
  "openai-project.",
];

/** Splits a `Sec-WebSocket-Protocol` header into the offered subprotocols, in order. */
export function parseOfferedProtocols(header: string | null | undefined): string[] {
  if (!header) return [];
  return header.split(",").map((p) => p.trim()).filter(Boolean);
}

/** Finds the user's token in the request, or null when none was sent. */
export function extractCredential(request: Request, offered: readonly string[]): Credential | null {
  for (const protocol of offered) {
    if (protocol.startsWith(openaiKeyPrefix) && protocol.length > openaiKeyPrefix.length) {
      return { token: protocol.slice(openaiKeyPrefix.length), carrier: "subprotocol" };
    }
    if (protocol.startsWith(supabaseJwtPrefix) && protocol.length > supabaseJwtPrefix.length) {
      return { token: protocol.slice(supabaseJwtPrefix.length), carrier: "subprotocol" };
    }
  }
  const authorization = request.headers.get("authorization");
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  if (bearer) return { token: bearer[1], carrier: "header" };
  const query = new URL(request.url).searchParams;
  const fromQuery = query.get("token") ?? query.get("jwt");
  if (fromQuery) return { token: fromQuery, carrier: "query" };
  return null;
}

/**
 * The subprotocol to select: `realtime` when offered (Chrome fails the handshake if an offered list
 * gets no answer), else the first offered one that carries no credential, else none.
 */
export function selectProtocol(offered: readonly string[]): string | undefined {
  if (offered.includes("realtime")) return "realtime";
  return offered.find((p) => !unselectablePrefixes.some((prefix) => p.startsWith(prefix)));
}
