/**
 * Close codes the relay uses with clients, and how an upstream close maps onto the client socket.
 *
 * @module
 */

/** Close codes (and their reasons) the client can act on. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  policy: 1008,
  internalError: 1011,
  serviceRestart: 1012,
  tryAgainLater: 1013,
  /** The seed's contract: missing or invalid user token. */
  unauthorized: 4001,
  /** The user may not use the named agent or conversation. */
  forbidden: 4003,
  /** A per-user limit: concurrent sessions, daily quota, connection attempts. */
  tooManyRequests: 4029,
} as const;

/**
 * The code to close the client with when the upstream socket closed with `code`. Application codes and
 * the meaningful protocol codes pass through; "no status" becomes a normal close and an abnormal drop
 * (1006, never sent on the wire) becomes 1011, since the client's own connection is still healthy.
 */
export function clientCodeForUpstreamClose(code: number): number {
  if (code === 1005) return CloseCode.normal;
  if (
    code === 1000 || code === 1001 || code === 1008 || code === 1011 || code === 1012 || code === 1013 ||
    (code >= 3000 && code <= 4999)
  ) {
    return code;
  }
  return CloseCode.internalError;
}
