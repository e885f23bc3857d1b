/**
 * FOR TESTS AND LOCAL TOOLING ONLY: real ES256/RS256 key pairs, a JWKS document for them, signed
 * tokens, and typical Supabase user claims. Production code verifies tokens (`jwt.ts`); it never signs
 * with asymmetric keys.
 *
 * ```ts
 * const pair = await generateEs256KeyPair();
 * // serve jwksOf(pair) at `${supabaseUrl}/auth/v1/.well-known/jwks.json`, then:
 * const token = await signAsymmetricJwt(supabaseUserClaims({ issuer: `${supabaseUrl}/auth/v1` }), pair);
 * ```
 *
 * @module
 */
import { encodeBase64Url, encodeBase64UrlText } from "./base64url.ts";
import type { SupabaseClaims } from "./jwt.ts";

/** A public JWK as a JWKS publishes it. */
export interface PublicJwk extends JsonWebKey {
  kid: string;
  use: "sig";
  alg: "ES256" | "RS256";
}

/** A freshly generated key pair with its kid and public JWK. */
export interface TestKeyPair {
  alg: "ES256" | "RS256";
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: PublicJwk;
}

/** Makes an ECDSA P-256 key pair for ES256 tokens; `kid` defaults to a random one. */
export async function generateEs256KeyPair(kid = `es256-${crypto.randomUUID()}`): Promise<TestKeyPair> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return {
    alg: "ES256",
    kid,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicJwk: { kty, crv, x, y, kid, use: "sig", alg: "ES256" },
  };
}

/** Makes a 2048-bit RSA key pair for RS256 tokens; `kid` defaults to a random one. */
export async function generateRs256KeyPair(kid = `rs256-${crypto.randomUUID()}`): Promise<TestKeyPair> {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const { kty, n, e } = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return {
    alg: "RS256",
    kid,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicJwk: { kty, n, e, kid, use: "sig", alg: "RS256" },
  };
}

/** The JWKS document (`{ keys: [...] }`) publishing the public halves of `pairs`. */
export function jwksOf(...pairs: TestKeyPair[]): { keys: PublicJwk[] } {
  return { keys: pairs.map((pair) => pair.publicJwk) };
}

/**
 * Signs `claims` with `pair` (ES256 as raw r||s, RS256 as PKCS#1 v1.5). `header` is merged over
 * `{ alg, typ: "JWT", kid }`, so negative tests can forge a kid or mislabel the alg.
 */
export async function signAsymmetricJwt(
  claims: Record<string, unknown>,
  pair: TestKeyPair,
  header?: Record<string, unknown>,
): Promise<string> {
  const signingInput = `${
    encodeBase64UrlText(JSON.stringify({ alg: pair.alg, typ: "JWT", kid: pair.kid, ...header }))
  }.${encodeBase64UrlText(JSON.stringify(claims))}`;
  const algorithm = pair.alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : { name: "RSASSA-PKCS1-v1_5" };
  const signature = await crypto.subtle.sign(
    algorithm,
    pair.privateKey,
    new TextEncoder().encode(signingInput),
  );
  return `${signingInput}.${encodeBase64Url(new Uint8Array(signature))}`;
}

/** Options of {@link supabaseUserClaims}. */
export interface UserClaimsOptions {
  /** The clock the token should be valid at (ms since epoch). Default `Date.now()`. */
  nowMs?: number;
  /** Lifetime from `nowMs`. Default 3600 (Supabase's default). */
  ttlSeconds?: number;
  /** `iss`; omitted when not given. Supabase's is `${SUPABASE_URL}/auth/v1`. */
  issuer?: string;
  /** Extra or replaced claims (`undefined` values remove a claim). */
  overrides?: Record<string, unknown>;
}

/** Claims shaped like a Supabase user access token: `aud` and `role` "authenticated", a uuid `sub`. */
export function supabaseUserClaims(options: UserClaimsOptions = {}): SupabaseClaims {
  const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const claims: Record<string, unknown> = {
    sub: crypto.randomUUID(),
    aud: "authenticated",
    role: "authenticated",
    exp: iat + (options.ttlSeconds ?? 3600),
    iat,
    email: "user@example.test",
    session_id: crypto.randomUUID(),
    aal: "aal1",
    is_anonymous: false,
    ...(options.issuer === undefined ? {} : { iss: options.issuer }),
    ...options.overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims as SupabaseClaims;
}
