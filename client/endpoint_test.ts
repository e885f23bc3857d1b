import assert from "node:assert/strict";
import { resolveVoiceEndpoint } from "./endpoint.ts";

const page = { protocol: "https:", host: "app.example.com" };

Deno.test("VITE_VOICE_WEBSOCKET_URL wins over the Supabase URL and the page's origin", () => {
  const endpoint = resolveVoiceEndpoint({
    VITE_VOICE_WEBSOCKET_URL: "wss://voice.example.com/v1/realtime",
    VITE_SUPABASE_URL: "https://abcdefgh.supabase.co",
  }, page);
  assert.equal(endpoint.url, "wss://voice.example.com/v1/realtime");
  assert.equal(endpoint.kind, "vps");
  assert.equal(endpoint.source, "VITE_VOICE_WEBSOCKET_URL");
  assert.deepEqual(endpoint.candidates.map((c) => [c.kind, c.url]), [
    ["vps", "wss://voice.example.com/v1/realtime"],
    ["edge", "wss://abcdefgh.supabase.co/functions/v1/realtime-voice"],
    ["same-origin", "wss://app.example.com/v1/realtime"],
  ]);
});

Deno.test("the Edge Function URL is derived from VITE_SUPABASE_URL", () => {
  for (
    const [input, expected] of [
      ["https://abcdefgh.supabase.co", "wss://abcdefgh.supabase.co/functions/v1/realtime-voice"],
      ["https://abcdefgh.supabase.co/", "wss://abcdefgh.supabase.co/functions/v1/realtime-voice"],
      ["http://127.0.0.1:54321", "ws://127.0.0.1:54321/functions/v1/realtime-voice"],
    ]
  ) {
    const endpoint = resolveVoiceEndpoint({ VITE_SUPABASE_URL: input }, page);
    assert.equal(endpoint.url, expected, input);
    assert.equal(endpoint.kind, "edge");
  }
});

Deno.test("without variables the page's own origin is used, ws for http pages", () => {
  assert.equal(resolveVoiceEndpoint({}, page).url, "wss://app.example.com/v1/realtime");
  assert.equal(
    resolveVoiceEndpoint({ VITE_VOICE_WEBSOCKET_URL: "  " }, { protocol: "http:", host: "localhost:8080" })
      .url,
    "ws://localhost:8080/v1/realtime",
  );
});

Deno.test("http(s) relay URLs become ws(s); other schemes and junk are refused by name", () => {
  assert.equal(
    resolveVoiceEndpoint({ VITE_VOICE_WEBSOCKET_URL: "https://voice.example.com/v1/realtime" }, page).url,
    "wss://voice.example.com/v1/realtime",
  );
  assert.throws(
    () => resolveVoiceEndpoint({ VITE_VOICE_WEBSOCKET_URL: "ftp://x" }, page),
    /VITE_VOICE_WEBSOCKET_URL/,
  );
  assert.throws(() => resolveVoiceEndpoint({ VITE_SUPABASE_URL: "not a url" }, page), /VITE_SUPABASE_URL/);
});

Deno.test("with nothing to go on it says which variables to set", () => {
  assert.throws(() => resolveVoiceEndpoint({}, undefined), /VITE_VOICE_WEBSOCKET_URL.*VITE_SUPABASE_URL/);
  assert.throws(() => resolveVoiceEndpoint({}, { protocol: "file:", host: "" }), /VITE_VOICE_WEBSOCKET_URL/);
});
