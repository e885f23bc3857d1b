/// <reference lib="dom" />
/**
 * Where the browser connects: one function turns the app's build-time environment into the relay's
 * WebSocket URL, so apps never rebuild URLs by hand.
 *
 * Precedence (first one set wins):
 * 1. `VITE_VOICE_WEBSOCKET_URL`: the long-lived relay (VPS), used as given (`https://` becomes `wss://`).
 * 2. `VITE_SUPABASE_URL`: the Edge Function, `wss://<ref>.supabase.co/functions/v1/realtime-voice`.
 * 3. Same origin: `wss://<page host>/v1/realtime` (the relay also serves the page, as its demo does).
 *
 * @module
 */

/** The variables {@link resolveVoiceEndpoint} reads; pass `import.meta.env` (Vite) or any plain object. */
export interface VoiceEndpointEnv {
  VITE_VOICE_WEBSOCKET_URL?: string;
  VITE_SUPABASE_URL?: string;
  [name: string]: unknown;
}

/** Which kind of deployment an endpoint points at. */
export type VoiceEndpointKind = "vps" | "edge" | "same-origin";

/** One place the client can connect to. */
export interface VoiceEndpointCandidate {
  /** `ws://` or `wss://` URL of the relay's WebSocket endpoint. */
  url: string;
  kind: VoiceEndpointKind;
  /** The variable it came from, for messages (`same-origin` for the page's own host). */
  source: "VITE_VOICE_WEBSOCKET_URL" | "VITE_SUPABASE_URL" | "same-origin";
}

/** The resolved endpoint, plus every configured alternative in precedence order. */
export interface VoiceEndpoint extends VoiceEndpointCandidate {
  /**
   * All configured endpoints, the chosen one first. A client cut by the edge platform's time limit can
   * move to the `vps` candidate when both variables are set.
   */
  candidates: VoiceEndpointCandidate[];
}

/** The Edge Function's path under a Supabase project URL. */
export const SUPABASE_FUNCTION_PATH = "/functions/v1/realtime-voice";
/** The relay's WebSocket path when the relay serves the page itself. */
export const SAME_ORIGIN_PATH = "/v1/realtime";

/** An `http(s)`/`ws(s)` URL as a WebSocket URL; throws naming `variable` when it is not one. */
function toWebSocketUrl(value: string, variable: string): URL {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Error(`${variable} is not a URL: ${JSON.stringify(value)}`);
  }
  const schemes: Record<string, string> = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" };
  const scheme = schemes[url.protocol];
  if (!scheme) {
    throw new Error(`${variable} must be a ws://, wss://, http:// or https:// URL (got ${url.protocol}//)`);
  }
  url.protocol = scheme;
  return url;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * Resolves the relay endpoint from `env` (see the module doc for the precedence). `location` defaults to
 * the page's own (`globalThis.location`); without one and without either variable it throws, naming
 * the variables to set.
 */
export function resolveVoiceEndpoint(
  env: VoiceEndpointEnv,
  location: { protocol: string; host: string } | undefined = (globalThis as { location?: Location }).location,
): VoiceEndpoint {
  const candidates: VoiceEndpointCandidate[] = [];
  const vps = nonEmpty(env.VITE_VOICE_WEBSOCKET_URL);
  if (vps) {
    candidates.push({
      url: toWebSocketUrl(vps, "VITE_VOICE_WEBSOCKET_URL").href,
      kind: "vps",
      source: "VITE_VOICE_WEBSOCKET_URL",
    });
  }
  const supabase = nonEmpty(env.VITE_SUPABASE_URL);
  if (supabase) {
    const url = toWebSocketUrl(supabase, "VITE_SUPABASE_URL");
    url.pathname = url.pathname.replace(/\/+$/, "") + SUPABASE_FUNCTION_PATH;
    url.search = "";
    url.hash = "";
    candidates.push({ url: url.href, kind: "edge", source: "VITE_SUPABASE_URL" });
  }
  if (location && /^https?:$/.test(location.protocol) && location.host) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    candidates.push({
      url: `${scheme}//${location.host}${SAME_ORIGIN_PATH}`,
      kind: "same-origin",
      source: "same-origin",
    });
  }
  if (candidates.length === 0) {
    throw new Error(
      "No voice relay endpoint: set VITE_VOICE_WEBSOCKET_URL (your relay) or VITE_SUPABASE_URL (the Edge " +
        "Function), or serve the page from the relay itself.",
    );
  }
  return { ...candidates[0], candidates };
}
