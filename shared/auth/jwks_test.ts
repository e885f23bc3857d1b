import assert from "node:assert/strict";
import { importVerificationKey, JwksCache } from "./jwks.ts";
import { generateEs256KeyPair, generateRs256KeyPair, jwksOf } from "./test_keys.ts";

/** A fetch that answers like a JWKS endpoint, counting calls; `body` and `status` can change between calls. */
function fakeEndpoint(body: unknown) {
  const endpoint = {
    body,
    status: 200,
    calls: 0,
    fetch: ((_input: RequestInfo | URL, _init?: RequestInit) => {
      endpoint.calls++;
      return Promise.resolve(new Response(JSON.stringify(endpoint.body), { status: endpoint.status }));
    }) as typeof fetch,
  };
  return endpoint;
}

function clock() {
  const c = { ms: 1_000_000, now: () => c.ms };
  return c;
}

const url = "https://ref.supabase.co/auth/v1/.well-known/jwks.json";

Deno.test("importVerificationKey keeps only public signing keys for ES256 and RS256", async () => {
  const es = await generateEs256KeyPair("e1");
  const rs = await generateRs256KeyPair("r1");
  assert.deepEqual((await importVerificationKey(es.publicJwk))?.alg, "ES256");
  assert.deepEqual((await importVerificationKey(rs.publicJwk))?.kid, "r1");
  const { alg: _alg, use: _use, kid: _kid, ...bare } = es.publicJwk;
  assert.equal((await importVerificationKey(bare))?.kid, undefined, "alg, use and kid are optional");
  assert.equal((await importVerificationKey(bare))?.alg, "ES256");
  const unusable = [
    { ...es.publicJwk, use: "enc" },
    { ...es.publicJwk, alg: "ES384" },
    { ...es.publicJwk, crv: "P-384" },
    { ...es.publicJwk, key_ops: ["encrypt"] },
    { ...es.publicJwk, kid: 7 },
    { ...es.publicJwk, x: "AAAA" },
    { ...es.publicJwk, x: "A".repeat(43) },
    { ...es.publicJwk, x: es.publicJwk.y },
    { ...rs.publicJwk, alg: "RS512" },
    { ...rs.publicJwk, n: "AQAB" },
    { kty: "oct", k: "c2VjcmV0", alg: "HS256", use: "sig" },
    null,
    "key",
    [],
  ];
  for (const jwk of unusable) assert.equal(await importVerificationKey(jwk), null, JSON.stringify(jwk));
  assert.ok(await importVerificationKey({ ...es.publicJwk, key_ops: ["verify"] }));
});

Deno.test("JwksCache selects by alg and kid, and fetches once for concurrent lookups", async () => {
  const es = await generateEs256KeyPair("e1");
  const rs = await generateRs256KeyPair("r1");
  const endpoint = fakeEndpoint(jwksOf(es, rs));
  const cache = new JwksCache({ url, fetch: endpoint.fetch, now: clock().now });
  const results = await Promise.all([
    cache.lookup("ES256", "e1"),
    cache.lookup("RS256", "r1"),
    cache.lookup("ES256", undefined),
    cache.lookup("RS256", "e1"),
  ]);
  assert.equal(endpoint.calls, 1);
  assert.deepEqual(results.map((r) => r.found && r.keys.map((k) => `${k.alg}:${k.kid}`)), [
    ["ES256:e1"],
    ["RS256:r1"],
    ["ES256:e1"],
    false,
  ]);
  const miss = results[3];
  assert.ok(!miss.found && !miss.fetchFailed && miss.detail.includes(url) && miss.detail.includes('"e1"'));
});

Deno.test("JwksCache reports a failed first fetch with the URL and the cause", async () => {
  const endpoint = fakeEndpoint({ keys: [] });
  const c = clock();
  const cache = new JwksCache({ url, fetch: endpoint.fetch, now: c.now, minRefreshMs: 30_000 });
  for (const [status, body, cause] of [[500, {}, "HTTP 500"], [200, { nokeys: true }, '"keys"']] as const) {
    endpoint.status = status;
    endpoint.body = body;
    const result = await cache.lookup("ES256", "x");
    assert.ok(!result.found && result.fetchFailed, JSON.stringify(result));
    assert.ok(
      !result.found && result.detail.includes(url) && result.detail.includes(cause),
      JSON.stringify(result),
    );
    c.ms += 30_000;
  }
  assert.equal(endpoint.calls, 2);
  const throwing = new JwksCache({
    url,
    fetch: () => Promise.reject(new TypeError("dns failure")),
    now: c.now,
  });
  const result = await throwing.lookup("RS256", undefined);
  assert.ok(
    !result.found && result.fetchFailed && result.detail.includes("dns failure") &&
      result.detail.includes(url),
  );
});
