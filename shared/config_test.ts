import assert from "node:assert/strict";
import { ConfigError, loadConfig, secretValues } from "./config.ts";

Deno.test("defaults give a working configuration", () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.maxConnections, 1000);
  assert.equal(config.openai.realtimeUrl, "wss://api.openai.com/v1/realtime");
  assert.equal(config.openai.defaultModel, "gpt-realtime");
  assert.deepEqual(config.openai.allowedModels, ["gpt-realtime"]);
  assert.equal(config.auth.issuer, undefined);
});

Deno.test("SUPABASE_URL sets the expected issuer; ALLOWED_MODELS always includes the default", () => {
  const config = loadConfig({
    SUPABASE_URL: "https://abc.supabase.co/",
    ALLOWED_MODELS: "gpt-realtime-mini, gpt-realtime-2025-08-28",
    OPENAI_REALTIME_MODEL: "gpt-realtime",
  });
  assert.equal(config.auth.supabaseUrl, "https://abc.supabase.co");
  assert.equal(config.auth.issuer, "https://abc.supabase.co/auth/v1");
  assert.deepEqual(config.openai.allowedModels, [
    "gpt-realtime",
    "gpt-realtime-mini",
    "gpt-realtime-2025-08-28",
  ]);
});

Deno.test("a bad value names its variable in one line", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ MAX_CONNECTIONS: "lots" }, /^Invalid configuration: MAX_CONNECTIONS .*"lots"/],
    [{ PORT: "70000" }, /^Invalid configuration: PORT /],
    [
      { OPENAI_REALTIME_URL: "https://api.openai.com/v1/realtime" },
      /^Invalid configuration: OPENAI_REALTIME_URL .*ws:\/\//,
    ],
    [{ SUPABASE_URL: "not a url" }, /^Invalid configuration: SUPABASE_URL /],
    [{ LOG_LEVEL: "loud" }, /^Invalid configuration: LOG_LEVEL /],
    [
      { CLIENT_BUFFER_SOFT_LIMIT_BYTES: "100", CLIENT_BUFFER_HARD_LIMIT_BYTES: "10" },
      /CLIENT_BUFFER_HARD_LIMIT_BYTES/,
    ],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadConfig(env), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("secret values never appear in configuration errors", () => {
  assert.throws(() => loadConfig({ MAX_CONNECTIONS: "0" }), /MAX_CONNECTIONS/);
  assert.throws(
    () => loadConfig({ SUPABASE_JWT_SECRET: " not-a-secret-but-hidden ", PORT: "x" }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.ok(!error.message.includes("not-a-secret-but-hidden"));
      return true;
    },
  );
  assert.throws(() => loadConfig({ OPENAI_API_KEY: "  " }), /OPENAI_API_KEY .*\[redacted\]/);
  const config = loadConfig({ OPENAI_API_KEY: "sk-abcdefghijklmnop", SUPABASE_JWT_SECRET: "s".repeat(40) });
  assert.deepEqual(secretValues(config), ["sk-abcdefghijklmnop", "s".repeat(40)]);
});
