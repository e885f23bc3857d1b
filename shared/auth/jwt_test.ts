import assert from "node:assert/strict";
import { encodeBase64Url, encodeBase64UrlText } from "./base64url.ts";
import {
  type AuthFailureReason,
  createJwtVerifier,
  type JwtVerifierOptions,
  maxTokenLength,
  signHs256Jwt,
  type VerifyResult,
} from "./jwt.ts";
import {
  generateEs256KeyPair,
  generateRs256KeyPair,
  jwksOf,
  signAsymmetricJwt,
  supabaseUserClaims,
  type TestKeyPair,
} from "./test_keys.ts";

const secret = "test-jwt-secret-with-at-least-32-characters";
const startMs = Date.UTC(2030, 0, 1);

/** A settable clock, so cache and expiry tests never wait. */
function makeClock() {
  const clock = { ms: startMs, now: () => clock.ms, advance: (ms: number) => void (clock.ms += ms) };
  return clock;
}

interface UserEndpointRequest {
  apikey: string | null;
  authorization: string | null;
}

/** A real HTTP server on 127.0.0.1 playing Supabase: JWKS and `/auth/v1/user`, counting hits. */
function startFakeSupabase(initialJwks: unknown = { keys: [] }) {
  const state = {
    jwks: initialJwks,
    jwksStatus: 200,
    jwksHits: 0,
    userHits: 0,
    userRequests: [] as UserEndpointRequest[],
    /** What `/auth/v1/user` answers; default 401. */
    userAnswer: (_req: UserEndpointRequest): Response =>
      Response.json({ code: 401, error_code: "bad_jwt", msg: "invalid JWT" }, { status: 401 }),
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/auth/v1/.well-known/jwks.json") {
      state.jwksHits++;
      return state.jwksStatus === 200
        ? Response.json(state.jwks)
        : new Response("upstream trouble", { status: state.jwksStatus });
    }
    if (path === "/auth/v1/user") {
      state.userHits++;
      const seen = {
        apikey: request.headers.get("apikey"),
        authorization: request.headers.get("authorization"),
      };
      state.userRequests.push(seen);
      return state.userAnswer(seen);
    }
    return new Response("not found", { status: 404 });
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return { state, url, issuer: `${url}/auth/v1`, close: () => server.shutdown() };
}

function assertOk(result: VerifyResult, userId: string): void {
  assert.equal(result.ok, true, result.ok ? "" : `expected ok, got ${result.reason}: ${result.detail}`);
  if (result.ok) assert.equal(result.userId, userId);
}

/** Asserts the reason, and that the log line leaks neither the token nor any of `secrets`. */
function assertFailure(
  result: VerifyResult,
  reason: AuthFailureReason,
  token: string,
  secrets: string[] = [],
): void {
  assert.equal(result.ok, false, "expected a failure");
  if (result.ok) return;
  assert.equal(result.reason, reason, `detail: ${result.detail}`);
  assert.ok(result.detail.length > 0);
  for (const part of [token, ...token.split("."), ...secrets]) {
    if (part.length >= 8) assert.ok(!result.detail.includes(part), `detail leaks a secret: ${result.detail}`);
  }
}

function hs256Verifier(extra: Partial<JwtVerifierOptions> = {}, clock = makeClock()) {
  return createJwtVerifier({ jwtSecret: secret, issuer: "local", now: clock.now, ...extra });
}

function unsignedToken(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  signature = "",
): string {
  return `${encodeBase64UrlText(JSON.stringify(header))}.${
    encodeBase64UrlText(JSON.stringify(claims))
  }.${signature}`;
}

Deno.test("HS256: a token signed with the jwtSecret verifies and yields sub as userId", async () => {
  const claims = supabaseUserClaims({ nowMs: startMs, issuer: "local" });
  const token = await signHs256Jwt(claims, secret);
  const result = await hs256Verifier()(token);
  assertOk(result, claims.sub);
  assert.deepEqual(result.ok && result.claims, claims);
});

Deno.test("ES256 and RS256 tokens verify against keys served by the JWKS endpoint", async () => {
  const es = await generateEs256KeyPair();
  const rs = await generateRs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(es, rs));
  try {
    const clock = makeClock();
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: clock.now });
    for (const pair of [es, rs]) {
      const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
      assertOk(await verify(await signAsymmetricJwt(claims, pair)), claims.sub);
    }
    assert.equal(supabase.state.jwksHits, 1);
  } finally {
    await supabase.close();
  }
});

Deno.test("a trailing slash on supabaseUrl does not change the JWKS URL or the issuer", async () => {
  const es = await generateEs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(es));
  try {
    const verify = createJwtVerifier({ supabaseUrl: `${supabase.url}/`, now: makeClock().now });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
    assertOk(await verify(await signAsymmetricJwt(claims, es)), claims.sub);
  } finally {
    await supabase.close();
  }
});

Deno.test("exp: expired beyond the skew is refused, within the skew accepted, missing is malformed", async () => {
  const clock = makeClock();
  const verify = hs256Verifier({}, clock);
  const expSoon = supabaseUserClaims({ nowMs: startMs, issuer: "local", ttlSeconds: 0 });
  const token = await signHs256Jwt(expSoon, secret);
  clock.advance(29_000);
  assertOk(await verify(token), expSoon.sub);
  clock.advance(1_000);
  assertFailure(await verify(token), "expired", token);

  const strict = hs256Verifier({ clockSkewSeconds: 0 }, makeClock());
  const justExpired = await signHs256Jwt(
    supabaseUserClaims({ nowMs: startMs, issuer: "local", ttlSeconds: 0 }),
    secret,
  );
  assertFailure(await strict(justExpired), "expired", justExpired);

  for (const exp of [undefined, "9999999999", null]) {
    const noExp = await signHs256Jwt(
      supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { exp } }),
      secret,
    );
    assertFailure(await verify(noExp), "malformed", noExp);
  }
});

Deno.test("nbf: in the future beyond the skew is refused, within the skew accepted", async () => {
  const verify = hs256Verifier();
  const nowSeconds = startMs / 1000;
  const later = await signHs256Jwt(
    supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { nbf: nowSeconds + 120 } }),
    secret,
  );
  assertFailure(await verify(later), "not_yet_valid", later);
  const slightlyAhead = supabaseUserClaims({
    nowMs: startMs,
    issuer: "local",
    overrides: { nbf: nowSeconds + 10 },
  });
  assertOk(await verify(await signHs256Jwt(slightlyAhead, secret)), slightlyAhead.sub);
  const badNbf = await signHs256Jwt(
    supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { nbf: "soon" } }),
    secret,
  );
  assertFailure(await verify(badNbf), "malformed", badNbf);
});

Deno.test("bad signatures are refused: wrong secret, wrong key, tampered payload, DER-length ES256", async () => {
  const claims = supabaseUserClaims({ nowMs: startMs, issuer: "local" });
  const verifyHs = hs256Verifier();
  const otherSecret = "another-secret-that-is-also-long-enough-1234";
  const wrongSecret = await signHs256Jwt(claims, otherSecret);
  assertFailure(await verifyHs(wrongSecret), "bad_signature", wrongSecret, [secret, otherSecret]);

  const [header, , signature] = (await signHs256Jwt(claims, secret)).split(".");
  const tampered = `${header}.${
    encodeBase64UrlText(JSON.stringify({ ...claims, sub: "someone-else" }))
  }.${signature}`;
  assertFailure(await verifyHs(tampered), "bad_signature", tampered, [secret]);

  const es = await generateEs256KeyPair("shared-kid");
  const impostor = await generateEs256KeyPair("shared-kid");
  const rs = await generateRs256KeyPair();
  const rsImpostor = await generateRs256KeyPair(rs.kid);
  const supabase = startFakeSupabase(jwksOf(es, rs));
  try {
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: makeClock().now });
    const userClaims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
    const forgedEs = await signAsymmetricJwt(userClaims, impostor);
    assertFailure(await verify(forgedEs), "bad_signature", forgedEs);
    const forgedRs = await signAsymmetricJwt(userClaims, rsImpostor);
    assertFailure(await verify(forgedRs), "bad_signature", forgedRs);

    // A valid signature re-encoded with a DER-like prefix is not the 64-byte r||s JWS requires.
    const [h, p, s] = (await signAsymmetricJwt(userClaims, es)).split(".");
    const derLength = `${h}.${p}.${encodeBase64Url(new Uint8Array([0x30, 0x44, ...decode(s)]))}`;
    assertFailure(await verify(derLength), "bad_signature", derLength);
    const empty = `${h}.${p}.`;
    assertFailure(await verify(empty), "bad_signature", empty);
  } finally {
    await supabase.close();
  }
});

function decode(segment: string): Uint8Array {
  const binary = atob(
    segment.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (segment.length % 4)) % 4),
  );
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

Deno.test("alg none is refused in any spelling, with or without a signature segment", async () => {
  const verify = hs256Verifier();
  const claims = supabaseUserClaims({ nowMs: startMs, issuer: "local" });
  const realSignature = (await signHs256Jwt(claims, secret)).split(".")[2];
  for (const alg of ["none", "None", "NONE", "nOnE"]) {
    for (const signature of ["", realSignature]) {
      const token = unsignedToken({ alg, typ: "JWT" }, claims, signature);
      const result = await verify(token);
      assertFailure(result, "unsupported_alg", token);
      assert.match(!result.ok ? result.detail : "", /alg none/);
    }
    const twoSegments = unsignedToken({ alg }, claims).slice(0, -1);
    assertFailure(await verify(twoSegments), "malformed", twoSegments);
  }
});

Deno.test("algorithms other than HS256/ES256/RS256 are refused", async () => {
  const verify = hs256Verifier();
  const claims = supabaseUserClaims({ nowMs: startMs, issuer: "local" });
  for (const alg of ["HS512", "hs256", "ES384", "PS256", "RS512", "EdDSA"]) {
    const token = await signHs256Jwt(claims, secret, { alg });
    assertFailure(await verify(token), "unsupported_alg", token);
  }
  const noAlg = unsignedToken({ typ: "JWT" }, claims, "abc");
  assertFailure(await verify(noAlg), "malformed", noAlg);
});

Deno.test("algorithm confusion: an HS256 token signed with the JWKS public key is never accepted", async () => {
  const rs = await generateRs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(rs));
  try {
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", rs.publicKey));
    const pem = `-----BEGIN PUBLIC KEY-----\n${
      btoa(String.fromCharCode(...spki))
    }\n-----END PUBLIC KEY-----\n`;
    const forgeries = [
      await signHs256Jwt(claims, pem, { kid: rs.kid }),
      await signHs256Jwt(claims, JSON.stringify(rs.publicJwk), { kid: rs.kid }),
      await signHs256Jwt(claims, rs.publicJwk.n as string, { kid: rs.kid }),
    ];
    const jwksOnly = createJwtVerifier({ supabaseUrl: supabase.url, now: makeClock().now });
    for (const forged of forgeries) assertFailure(await jwksOnly(forged), "no_verifier", forged);
    assert.equal(supabase.state.jwksHits, 0, "an HS256 token must not even consult the JWKS");

    // With a jwtSecret configured, the secret (never the JWKS key) decides.
    const both = createJwtVerifier({ supabaseUrl: supabase.url, jwtSecret: secret, now: makeClock().now });
    for (const forged of forgeries) assertFailure(await both(forged), "bad_signature", forged, [secret]);
    assert.equal(supabase.state.jwksHits, 0);
  } finally {
    await supabase.close();
  }
});

Deno.test("JWKS keys must fit the token: kty/crv/alg mismatches and non-sig keys are ignored", async () => {
  const es = await generateEs256KeyPair();
  const rs = await generateRs256KeyPair();
  const encRs = await generateRs256KeyPair();
  const small = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const smallJwk = await crypto.subtle.exportKey("jwk", small.publicKey);
  const smallPair: TestKeyPair = {
    alg: "RS256",
    kid: "small",
    privateKey: small.privateKey,
    publicKey: small.publicKey,
    publicJwk: { kty: "RSA", n: smallJwk.n, e: smallJwk.e, kid: "small", use: "sig", alg: "RS256" },
  };
  const supabase = startFakeSupabase({
    keys: [
      es.publicJwk,
      { ...rs.publicJwk, alg: "PS256" },
      { ...encRs.publicJwk, use: "enc" },
      smallPair.publicJwk,
    ],
  });
  try {
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: makeClock().now });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
    // An RS256 signature presented as ES256 under the EC key's kid, and vice versa.
    const rsAsEs = await signAsymmetricJwt(claims, rs, { alg: "ES256", kid: es.kid });
    assertFailure(await verify(rsAsEs), "bad_signature", rsAsEs);
    const esAsRs = await signAsymmetricJwt(claims, es, { alg: "RS256" });
    assertFailure(await verify(esAsRs), "unknown_key", esAsRs);
    // The JWK says PS256: not usable for RS256.
    const psKey = await signAsymmetricJwt(claims, rs);
    assertFailure(await verify(psKey), "unknown_key", psKey);
    const encKey = await signAsymmetricJwt(claims, encRs);
    assertFailure(await verify(encKey), "unknown_key", encKey);
    const smallKey = await signAsymmetricJwt(claims, smallPair);
    assertFailure(await verify(smallKey), "unknown_key", smallKey);
    // The one fitting key still works.
    assertOk(await verify(await signAsymmetricJwt(claims, es)), claims.sub);
  } finally {
    await supabase.close();
  }
});

Deno.test("a token without kid is checked against every key of its algorithm", async () => {
  const first = await generateEs256KeyPair();
  const second = await generateEs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(first, second));
  try {
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: makeClock().now });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
    assertOk(await verify(await signAsymmetricJwt(claims, second, { kid: undefined })), claims.sub);
    const stranger = await generateEs256KeyPair();
    const forged = await signAsymmetricJwt(claims, stranger, { kid: undefined });
    assertFailure(await verify(forged), "bad_signature", forged);
  } finally {
    await supabase.close();
  }
});

Deno.test("aud must include authenticated", async () => {
  const verify = hs256Verifier();
  for (const aud of ["anon", ["api", "other"], undefined, ""]) {
    const token = await signHs256Jwt(
      supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { aud } }),
      secret,
    );
    assertFailure(await verify(token), "wrong_audience", token);
  }
  const numeric = await signHs256Jwt(
    supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { aud: 7 } }),
    secret,
  );
  assertFailure(await verify(numeric), "malformed", numeric);
  const several = supabaseUserClaims({
    nowMs: startMs,
    issuer: "local",
    overrides: { aud: ["api", "authenticated"] },
  });
  assertOk(await verify(await signHs256Jwt(several, secret)), several.sub);
});

Deno.test("role must be authenticated when present: anon and service_role keys are not user sessions", async () => {
  const verify = hs256Verifier();
  for (const role of ["anon", "service_role", "Authenticated", ""]) {
    const token = await signHs256Jwt(
      supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { role } }),
      secret,
    );
    assertFailure(await verify(token), "wrong_role", token);
  }
  // The shape of a real anon / service_role key: no sub, no aud, iss "supabase".
  for (const role of ["anon", "service_role"]) {
    const apiKey = await signHs256Jwt(
      { iss: "supabase", ref: "abcdefgh", role, iat: 1, exp: 4_000_000_000 },
      secret,
    );
    assertFailure(await verify(apiKey), "wrong_role", apiKey, [secret]);
  }
  const noRole = supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { role: undefined } });
  assertOk(await verify(await signHs256Jwt(noRole, secret)), noRole.sub);
});

Deno.test("sub must be a non-empty string", async () => {
  const verify = hs256Verifier();
  for (const sub of [undefined, "", 42]) {
    const token = await signHs256Jwt(
      supabaseUserClaims({ nowMs: startMs, issuer: "local", overrides: { sub } }),
      secret,
    );
    assertFailure(await verify(token), "malformed", token);
  }
});

Deno.test("iss is checked against the configured or derived issuer, and not at all when neither", async () => {
  const claims = (iss: string | undefined) => supabaseUserClaims({ nowMs: startMs, overrides: { iss } });
  const local = hs256Verifier();
  for (const iss of ["https://evil.example/auth/v1", undefined]) {
    const token = await signHs256Jwt(claims(iss), secret);
    assertFailure(await local(token), "wrong_issuer", token);
  }
  const derived = hs256Verifier({ issuer: undefined, supabaseUrl: "https://ref.supabase.co" });
  const supabaseClaims = claims("https://ref.supabase.co/auth/v1");
  assertOk(await derived(await signHs256Jwt(supabaseClaims, secret)), supabaseClaims.sub);
  const other = await signHs256Jwt(claims("https://other.supabase.co/auth/v1"), secret);
  assertFailure(await derived(other), "wrong_issuer", other);

  const unchecked = hs256Verifier({ issuer: undefined });
  const anyIssuer = claims("whatever");
  assertOk(await unchecked(await signHs256Jwt(anyIssuer, secret)), anyIssuer.sub);
});

Deno.test("unknown kid: one refetch finds a rotated-in key; no refetch within the minimum interval", async () => {
  const oldKey = await generateEs256KeyPair();
  const newKey = await generateRs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(oldKey));
  try {
    const clock = makeClock();
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: clock.now });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer, ttlSeconds: 7200 });
    assertOk(await verify(await signAsymmetricJwt(claims, oldKey)), claims.sub);
    assert.equal(supabase.state.jwksHits, 1);

    // Auth starts signing with the new key before our minimum refetch interval has passed.
    supabase.state.jwks = jwksOf(oldKey, newKey);
    const rotated = await signAsymmetricJwt(claims, newKey);
    assertFailure(await verify(rotated), "unknown_key", rotated);
    assert.equal(supabase.state.jwksHits, 1, "no refetch within jwksMinRefreshMs");

    clock.advance(30_000);
    assertOk(await verify(rotated), claims.sub);
    assert.equal(supabase.state.jwksHits, 2, "exactly one refetch for the unknown kid");
    assertOk(await verify(rotated), claims.sub);
    assertOk(await verify(await signAsymmetricJwt(claims, oldKey)), claims.sub);
    assert.equal(supabase.state.jwksHits, 2);
  } finally {
    await supabase.close();
  }
});

Deno.test("forged kids cause at most one JWKS fetch per interval, also when they arrive concurrently", async () => {
  const real = await generateEs256KeyPair();
  const attacker = await generateEs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(real));
  try {
    const clock = makeClock();
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: clock.now, jwksMinRefreshMs: 30_000 });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer, ttlSeconds: 7200 });
    assertOk(await verify(await signAsymmetricJwt(claims, real)), claims.sub);
    assert.equal(supabase.state.jwksHits, 1);

    const forged = await Promise.all(
      Array.from({ length: 20 }, (_, i) => signAsymmetricJwt(claims, attacker, { kid: `forged-${i}` })),
    );
    for (const token of forged) assertFailure(await verify(token), "unknown_key", token);
    assert.equal(supabase.state.jwksHits, 1, "the first fetch was just now: no refetch yet");

    clock.advance(30_000);
    const results = await Promise.all(forged.map((token) => verify(token)));
    results.forEach((result, i) => assertFailure(result, "unknown_key", forged[i]));
    assert.equal(supabase.state.jwksHits, 2, "concurrent forged kids share one refetch");
    for (const token of forged) assertFailure(await verify(token), "unknown_key", token);
    assert.equal(supabase.state.jwksHits, 2);

    clock.advance(29_999);
    assertFailure(await verify(forged[0]), "unknown_key", forged[0]);
    assert.equal(supabase.state.jwksHits, 2);
    clock.advance(1);
    assertFailure(await verify(forged[0]), "unknown_key", forged[0]);
    assert.equal(supabase.state.jwksHits, 3);
  } finally {
    await supabase.close();
  }
});

Deno.test("the JWKS is fetched once for many verifications, concurrent ones included, until jwksCacheMs", async () => {
  const es = await generateEs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(es));
  try {
    const clock = makeClock();
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: clock.now, jwksCacheMs: 600_000 });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer, ttlSeconds: 7200 });
    const token = await signAsymmetricJwt(claims, es);
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => verify(token)));
    for (const result of concurrent) assertOk(result, claims.sub);
    for (let i = 0; i < 20; i++) assertOk(await verify(token), claims.sub);
    assert.equal(supabase.state.jwksHits, 1);

    clock.advance(599_999);
    assertOk(await verify(token), claims.sub);
    assert.equal(supabase.state.jwksHits, 1);
    clock.advance(1);
    assertOk(await verify(token), claims.sub);
    assert.equal(supabase.state.jwksHits, 2, "refetched once the cache aged out");
  } finally {
    await supabase.close();
  }
});

Deno.test("JWKS fetch failures give unknown_key naming the URL; retries are rate limited; stale keys stay usable", async () => {
  const es = await generateEs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(es));
  try {
    const clock = makeClock();
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, now: clock.now });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer, ttlSeconds: 7200 });
    const token = await signAsymmetricJwt(claims, es);

    supabase.state.jwksStatus = 500;
    const failed = await verify(token);
    assertFailure(failed, "unknown_key", token);
    assert.ok(
      !failed.ok && failed.detail.includes(`${supabase.url}/auth/v1/.well-known/jwks.json`),
      failed.ok ? "" : failed.detail,
    );
    assert.ok(!failed.ok && failed.detail.includes("500"));
    assertFailure(await verify(token), "unknown_key", token);
    assert.equal(supabase.state.jwksHits, 1, "a failed fetch is not retried within jwksMinRefreshMs");

    supabase.state.jwksStatus = 200;
    clock.advance(30_000);
    assertOk(await verify(token), claims.sub);
    assert.equal(supabase.state.jwksHits, 2);

    // The cache ages out while the endpoint is down: the previous keys keep working.
    supabase.state.jwksStatus = 503;
    clock.advance(600_000);
    assertOk(await verify(token), claims.sub);
    assert.equal(supabase.state.jwksHits, 3);
  } finally {
    await supabase.close();
  }
});

Deno.test("an unreachable JWKS endpoint gives unknown_key naming the URL", async () => {
  const supabase = startFakeSupabase();
  const url = supabase.url;
  await supabase.close();
  const es = await generateEs256KeyPair();
  const verify = createJwtVerifier({ supabaseUrl: url, now: makeClock().now });
  const token = await signAsymmetricJwt(supabaseUserClaims({ nowMs: startMs, issuer: `${url}/auth/v1` }), es);
  const result = await verify(token);
  assertFailure(result, "unknown_key", token);
  assert.ok(!result.ok && result.detail.includes(`${url}/auth/v1/.well-known/jwks.json`));
});

Deno.test("no_verifier when the token's kind of key is not configured", async () => {
  const claims = supabaseUserClaims({ nowMs: startMs });
  const hsOnly = createJwtVerifier({ jwtSecret: secret, now: makeClock().now });
  const es = await generateEs256KeyPair();
  const esToken = await signAsymmetricJwt(claims, es);
  assertFailure(await hsOnly(esToken), "no_verifier", esToken);
  const nothing = createJwtVerifier({ now: makeClock().now });
  const hsToken = await signHs256Jwt(claims, secret);
  assertFailure(await nothing(hsToken), "no_verifier", hsToken);
  assertFailure(await nothing(esToken), "no_verifier", esToken);
});

Deno.test("slow path: Supabase Auth decides HS256 tokens without jwtSecret; answers are cached per token", async () => {
  const supabase = startFakeSupabase();
  const anonKey = "anon-key-for-tests-0123456789";
  try {
    const clock = makeClock();
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, anonKey, now: clock.now });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer, ttlSeconds: 3600 });
    const good = await signHs256Jwt(claims, secret);
    supabase.state.userAnswer = (req) =>
      req.authorization === `Bearer ${good}`
        ? Response.json({ id: claims.sub, aud: "authenticated", email: claims.email })
        : Response.json({ code: 401, error_code: "bad_jwt", msg: "invalid JWT" }, { status: 401 });

    const first = await verify(good);
    assertOk(first, claims.sub);
    assert.deepEqual(first.ok && first.claims, claims);
    assert.deepEqual(supabase.state.userRequests[0], { apikey: anonKey, authorization: `Bearer ${good}` });

    const again = await Promise.all(Array.from({ length: 10 }, () => verify(good)));
    for (const result of again) assertOk(result, claims.sub);
    assert.equal(supabase.state.userHits, 1, "a reconnect storm costs one Auth request");

    clock.advance(60_000);
    assertOk(await verify(good), claims.sub);
    assert.equal(supabase.state.userHits, 2, "cached for at most 60 s");

    const forged = await signHs256Jwt(claims, "a-different-secret-of-sufficient-length!!");
    const rejected = await verify(forged);
    assertFailure(rejected, "remote_rejected", forged, [anonKey]);
    assert.ok(!rejected.ok && rejected.detail.includes("bad_jwt"));
    assertFailure(await verify(forged), "remote_rejected", forged, [anonKey]);
    assert.equal(supabase.state.userHits, 3, "a refusal is cached too");

    // Local checks come first: an expired token never reaches Auth.
    const expired = await signHs256Jwt(
      supabaseUserClaims({ nowMs: startMs - 7_200_000, issuer: supabase.issuer }),
      secret,
    );
    assertFailure(await verify(expired), "expired", expired);
    assert.equal(supabase.state.userHits, 3);
  } finally {
    await supabase.close();
  }
});

Deno.test("slow path: the cache never outlives the token's exp", async () => {
  const supabase = startFakeSupabase();
  try {
    const clock = makeClock();
    const verify = createJwtVerifier({
      supabaseUrl: supabase.url,
      anonKey: "anon-key-for-tests-0123456789",
      now: clock.now,
      clockSkewSeconds: 0,
    });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer, ttlSeconds: 10 });
    const token = await signHs256Jwt(claims, secret);
    supabase.state.userAnswer = () => Response.json({ id: claims.sub });
    assertOk(await verify(token), claims.sub);
    clock.advance(10_000);
    assertFailure(await verify(token), "expired", token);
    assert.equal(supabase.state.userHits, 1);
  } finally {
    await supabase.close();
  }
});

Deno.test("slow path: a kid missing from the JWKS, 403, outages and mismatched ids", async () => {
  const known = await generateEs256KeyPair();
  const unknown = await generateEs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(known));
  const anonKey = "anon-key-for-tests-0123456789";
  try {
    const verify = createJwtVerifier({ supabaseUrl: supabase.url, anonKey, now: makeClock().now });
    const claims = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
    const token = await signAsymmetricJwt(claims, unknown);
    supabase.state.userAnswer = () => Response.json({ id: claims.sub });
    assertOk(await verify(token), claims.sub);
    assert.equal(supabase.state.jwksHits, 1);
    assert.equal(supabase.state.userHits, 1);

    const sessionGone = supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer });
    const goneToken = await signAsymmetricJwt(sessionGone, unknown);
    supabase.state.userAnswer = () =>
      Response.json({ code: 403, error_code: "session_not_found", msg: "Session not found" }, {
        status: 403,
      });
    assertFailure(await verify(goneToken), "remote_rejected", goneToken, [anonKey]);

    const outage = await signAsymmetricJwt(
      supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer }),
      unknown,
    );
    supabase.state.userAnswer = () => new Response("bad gateway", { status: 502 });
    assertFailure(await verify(outage), "remote_unavailable", outage, [anonKey]);
    supabase.state.userAnswer = () => Response.json({ id: crypto.randomUUID() });
    assertFailure(await verify(outage), "remote_rejected", outage, [anonKey]);
    assert.equal(supabase.state.userHits, 4, "an outage is not cached");
    supabase.state.userAnswer = () => Response.json({ email: "no-id@example.test" });
    const noId = await signAsymmetricJwt(
      supabaseUserClaims({ nowMs: startMs, issuer: supabase.issuer }),
      unknown,
    );
    assertFailure(await verify(noId), "remote_unavailable", noId, [anonKey]);

    // A known kid with a bad signature is decided locally, never by Auth.
    const forged = await signAsymmetricJwt(claims, unknown, { kid: known.kid });
    supabase.state.userAnswer = () => Response.json({ id: claims.sub });
    const hitsBefore = supabase.state.userHits;
    assertFailure(await verify(forged), "bad_signature", forged);
    assert.equal(supabase.state.userHits, hitsBefore);
  } finally {
    await supabase.close();
  }
});

Deno.test("malformed tokens: wrong segment count, bad base64url, non-JSON, non-object, oversized", async () => {
  const verify = hs256Verifier();
  const claims = supabaseUserClaims({ nowMs: startMs, issuer: "local" });
  const valid = await signHs256Jwt(claims, secret);
  const [h, p, s] = valid.split(".");
  const nonJson = encodeBase64UrlText("{not json");
  const cases = [
    `${h}.${p}`,
    `${h}.${p}.${s}.${s}`,
    "abc",
    ".",
    "..",
    `${h}.${p}!.${s}`,
    `${h}.${p}.${s}=`,
    `${h}.${p} .${s}`,
    `${h}.${p.slice(0, -1)}.${s}`,
    `${h}.${nonJson}.${s}`,
    `${nonJson}.${p}.${s}`,
    `${h}.${encodeBase64UrlText("[1,2]")}.${s}`,
    `${h}.${encodeBase64UrlText("null")}.${s}`,
    `${h}.${encodeBase64Url(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]))}.${s}`,
    `${h}.${p}.${s}`.padEnd(maxTokenLength + 1, "A"),
    unsignedToken({ alg: "HS256", crit: ["exp"] }, claims, s),
    unsignedToken({ alg: "HS256", kid: 5 }, claims, s),
  ];
  for (const token of cases) assertFailure(await verify(token), "malformed", token);
  // Non-canonical base64url: the 43rd character of a 32-byte signature carries 4 spare bits that must
  // be zero; a lax decoder would ignore them and accept a second spelling of the same token.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  assert.equal(s.length, 43);
  const spareBitSet = alphabet[alphabet.indexOf(s.at(-1)!) | 1];
  const sloppy = `${h}.${p}.${s.slice(0, -1)}${spareBitSet}`;
  assertFailure(await verify(sloppy), "malformed", sloppy);
});

Deno.test("missing tokens and non-string input never throw", async () => {
  const verify = hs256Verifier();
  for (const token of [null, undefined, ""]) assertFailure(await verify(token), "missing", "");
  for (const token of [42, {}, ["a.b.c"]]) {
    const result = await verify(token as unknown as string);
    assertFailure(result, "malformed", "");
  }
});

Deno.test("random garbage never throws and never verifies", async () => {
  const verify = hs256Verifier();
  const es = await generateEs256KeyPair();
  const supabase = startFakeSupabase(jwksOf(es));
  try {
    const jwks = createJwtVerifier({ supabaseUrl: supabase.url, now: makeClock().now });
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
    const valid = await signHs256Jwt(supabaseUserClaims({ nowMs: startMs, issuer: "local" }), secret);
    for (let i = 0; i < 300; i++) {
      let token: string;
      if (i % 2 === 0) {
        token = Array.from(
          { length: Math.floor(random() * 200) },
          () => alphabet[Math.floor(random() * alphabet.length)],
        )
          .join("");
      } else {
        const chars = [...valid];
        chars[Math.floor(random() * chars.length)] = alphabet[Math.floor(random() * alphabet.length)];
        token = chars.join("");
        if (token === valid) continue;
      }
      for (const result of [await verify(token), await jwks(token)]) {
        assert.equal(result.ok, false, `garbage verified: ${token}`);
      }
    }
  } finally {
    await supabase.close();
  }
});

Deno.test("signHs256Jwt: standard header, header overrides, secret length enforced", async () => {
  const token = await signHs256Jwt({ sub: "u" }, secret, { kid: "k1" });
  const [h, p] = token.split(".");
  assert.deepEqual(JSON.parse(new TextDecoder().decode(decode(h))), { alg: "HS256", typ: "JWT", kid: "k1" });
  assert.deepEqual(JSON.parse(new TextDecoder().decode(decode(p))), { sub: "u" });
  await assert.rejects(() => signHs256Jwt({ sub: "u" }, "short"), RangeError);
});

Deno.test("createJwtVerifier refuses invalid settings, naming the option", () => {
  assert.throws(() => createJwtVerifier({ jwtSecret: "short" }), /jwtSecret/);
  assert.throws(() => createJwtVerifier({ supabaseUrl: "not a url" }), /supabaseUrl/);
  assert.throws(() => createJwtVerifier({ supabaseUrl: "ftp://x.example" }), /supabaseUrl/);
  assert.throws(() => createJwtVerifier({ anonKey: "anon" }), /anonKey/);
  assert.throws(() => createJwtVerifier({ jwtSecret: secret, clockSkewSeconds: -1 }), /clockSkewSeconds/);
});
