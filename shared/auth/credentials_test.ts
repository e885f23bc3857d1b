import assert from "node:assert/strict";
import { extractCredential, parseOfferedProtocols, selectProtocol } from "./credentials.ts";

const request = (url: string, headers: Record<string, string> = {}) => new Request(url, { headers });

Deno.test("the subprotocol wins over the header and the query", () => {
  const offered = parseOfferedProtocols(
    "realtime, openai-insecure-api-key.AAA.BBB.CCC, openai-agents-sdk.0.2",
  );
  const credential = extractCredential(
    request("http://relay/v1/realtime?token=QQQ", { authorization: "Bearer HHH" }),
    offered,
  );
  assert.deepEqual(credential, { token: "AAA.BBB.CCC", carrier: "subprotocol" });
  assert.deepEqual(extractCredential(request("http://relay/"), ["jwt-X.Y.Z"]), {
    token: "X.Y.Z",
    carrier: "subprotocol",
  });
});

Deno.test("then the Authorization header, then ?token= and ?jwt=", () => {
  assert.deepEqual(
    extractCredential(request("http://relay/?token=QQQ", { authorization: "Bearer HHH" }), ["realtime"]),
    { token: "HHH", carrier: "header" },
  );
  assert.deepEqual(extractCredential(request("http://relay/?token=QQQ"), []), {
    token: "QQQ",
    carrier: "query",
  });
  assert.deepEqual(extractCredential(request("http://relay/?jwt=JJJ"), []), {
    token: "JJJ",
    carrier: "query",
  });
  assert.equal(
    extractCredential(request("http://relay/", { authorization: "Basic abc" }), ["realtime"]),
    null,
  );
  assert.equal(extractCredential(request("http://relay/"), ["openai-insecure-api-key."]), null);
});

Deno.test("selects realtime, else a protocol that carries no credential, else none", () => {
  assert.equal(selectProtocol(["openai-insecure-api-key.T", "realtime"]), "realtime");
  assert.equal(selectProtocol(["jwt-T"]), undefined);
  assert.equal(selectProtocol(["jwt-T", "openai-beta.realtime-v1", "my-app"]), "my-app");
  assert.equal(selectProtocol([]), undefined);
});
