/**
 * The upstream dial: URL, model and the server's credential. Client headers and subprotocols are
 * never copied here, so neither the user's JWT nor a retired `OpenAI-Beta` header can reach OpenAI.
 *
 * @module
 */
import type { DialRequest } from "../adapter.ts";
import type { RelayConfig } from "../config.ts";

/** How the server's key travels upstream: a header where the dialer can send one, else a subprotocol. */
export type UpstreamAuthForm = "header" | "subprotocol";

/** The model for a session: the client's `?model=` when allowed, else the configured default. */
export function chooseModel(config: RelayConfig, requested: string | null | undefined): string {
  return requested && config.openai.allowedModels.includes(requested)
    ? requested
    : config.openai.defaultModel;
}

/** Builds the upstream dial for `model` with the server's `apiKey`. */
export function upstreamDialRequest(
  config: RelayConfig,
  model: string,
  apiKey: string,
  authForm: UpstreamAuthForm,
): DialRequest {
  const url = new URL(config.openai.realtimeUrl);
  url.searchParams.set("model", model);
  if (authForm === "header") {
    return { url: url.toString(), protocols: [], headers: { Authorization: `Bearer ${apiKey}` } };
  }
  return { url: url.toString(), protocols: ["realtime", `openai-insecure-api-key.${apiKey}`], headers: {} };
}
