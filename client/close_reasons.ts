/**
 * Close codes and server errors in plain words for the person using the app, with the relay's own
 * reason kept alongside (see README, "Close codes the client sees").
 *
 * @module
 */

const messages: Record<number, string> = {
  1000: "The voice session ended.",
  1001: "The voice session reached its time limit.",
  1005: "The connection to the voice service closed without saying why.",
  1006: "The connection to the voice service was lost.",
  1008: "The connection was too slow to keep up with the audio.",
  1011: "The voice service could not reach the AI model.",
  1012: "The voice service is restarting.",
  1013: "The voice service is busy right now.",
  1014: "The voice service's gateway failed.",
  4001: "The voice service did not accept your sign-in. Sign in again.",
  4003: "This account is not allowed to use voice.",
  4029: "Too many voice sessions are open for this account. Close one and try again.",
};

/** A close code and the relay's reason as one sentence (the reason in parentheses when it adds something). */
export function describeClose(code: number, reason: string): string {
  const base = messages[code] ?? `The connection to the voice service closed (code ${code}).`;
  const detail = reason.trim();
  return detail && !base.toLowerCase().includes(detail.toLowerCase()) ? `${base} (${detail})` : base;
}

/** A Realtime `error` event's `error` object as one sentence. */
export function describeServerError(error: { code?: unknown; message?: unknown } | undefined): string {
  const message = typeof error?.message === "string" && error.message.trim() ? error.message.trim() : "";
  if (error?.code === "upstream_unavailable") {
    return `The voice service could not reach the AI model.${message ? ` (${message})` : ""}`;
  }
  return message ||
    `The voice service reported an error${typeof error?.code === "string" ? ` (${error.code})` : ""}.`;
}
