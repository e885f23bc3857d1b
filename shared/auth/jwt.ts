/**
 * Verifies a user's Supabase access token inside the relay, with Web Crypto only.
 *
 * A token is checked in this order, stopping at the first failure:
 * 1. shape: three strict base64url segments, JSON header and payload, at most {@link maxTokenLength};
 * 2. algorithm: HS256, ES256 or RS256 exactly (`none` in any spelling and everything else rejected);
 * 3. claims: `role` (if present) and `aud` must say "authenticated", `sub` non-empty, `exp` in the
 *    future and `nbf` in the past (both with clock skew), `iss` equal to the expected issuer if known;
 * 4. signature: HS256 only with the configured `jwtSecret`; ES256/RS256 only with a key from the
 *    project's JWKS whose type fits the algorithm (see `jwks.ts`), so no algorithm confusion;
 * 5. slow path: when step 4 has no key to check with (HS256 without `jwtSecret`, or no fitting JWKS
 *    key) and `anonKey` is set, Supabase Auth `GET /auth/v1/user` decides. Its answers are cached per
 *    token hash for at most 60 s, so a reconnect storm costs one Auth request per token.
 *
 * Claims are checked before any signature or network work: a token that would be refused anyway
 * (expired, an anon key) costs neither a JWKS fetch nor an Auth request. Nothing is trusted until
 * step 4 or 5 succeeds.
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url, encodeBase64UrlText } from "./base64url.ts";
import { fetchText } from "./http.ts";
import { type JwksAlgorithm, JwksCache } from "./jwks.ts";

/** Why a token was refused; stable names for logs, metrics and close reasons. */
export type AuthFailureReason =
  | "missing"
  | "malformed"
  | "unsupported_alg"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "wrong_audience"
  | "wrong_issuer"
  | "wrong_role"
  | "unknown_key"
  | "no_verifier"
  | "remote_rejected"
  /** The slow path could not get an answer (network error, timeout, HTTP 429/5xx): not the user's fault. */
  | "remote_unavailable";

/** The payload of a Supabase access token, as far as the relay relies on it. */
export interface SupabaseClaims {
  sub: string;
  role?: string;
  aud?: string | string[];
  iss?: string;
  exp: number;
  iat?: number;
  email?: string;
  session_id?: string;
  [k: string]: unknown;
}

/** The outcome of one verification; `detail` is a sentence for logs and never contains the token. */
export type VerifyResult =
  | { ok: true; userId: string; claims: SupabaseClaims }
  | { ok: false; reason: AuthFailureReason; detail: string };

/** How tokens are checked; see the module doc. */
export interface JwtVerifierOptions {
  /** When set: JWKS at `${supabaseUrl}/auth/v1/.well-known/jwks.json`, and iss must equal `${supabaseUrl}/auth/v1`. */
  supabaseUrl?: string;
  /** HS256 shared secret (legacy Supabase projects, and the relay's locally generated secret); >= 32 chars. */
  jwtSecret?: string;
  /** Enables the slow path (Supabase Auth `/auth/v1/user`); needs `supabaseUrl`. */
  anonKey?: string;
  /** Default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  /** How long a fetched JWKS is used. Default 600_000 (Supabase caches 10 min). */
  jwksCacheMs?: number;
  /** An unknown kid triggers at most one JWKS refetch per this interval. Default 30_000. */
  jwksMinRefreshMs?: number;
  /** Tolerance for `exp` and `nbf`. Default 30. */
  clockSkewSeconds?: number;
  /** Expected `iss` (e.g. "local"); default derived from `supabaseUrl`; when neither, iss is not checked. */
  issuer?: string;
  /** Deadline of one JWKS or Auth request. Default 5_000. */
  fetchTimeoutMs?: number;
}

/** Verifies one token; resolves to a {@link VerifyResult} and never rejects. */
export type JwtVerifier = (token: string | null | undefined) => Promise<VerifyResult>;

/** Longest token accepted; Supabase tokens with metadata are 1-3 KB. Bounds work per connection attempt. */
export const maxTokenLength = 16 * 1024;
/** Shortest HS256 secret accepted (RFC 7518 §3.2: a key of at least 256 bits). */
export const minHs256SecretLength = 32;
/** Longest time a slow-path answer is reused. */
export const remoteResultCacheMs = 60_000;
/** Most slow-path answers kept at once. */
export const remoteResultCacheEntries = 10_000;

const userRole = "authenticated";
const userAudience = "authenticated";
const maxAuthUserBytes = 1024 * 1024;

type Failure = Extract<VerifyResult, { ok: false }>;
// Spelled this way because Deno 2.1 (Supabase Edge) has no generic Uint8Array<ArrayBuffer> type.
type Bytes = NonNullable<ReturnType<typeof decodeBase64Url>>;

interface ParsedToken {
  alg: "HS256" | JwksAlgorithm;
  kid: string | undefined;
  claims: SupabaseClaims;
  signingInput: Bytes;
  signature: Bytes;
}

/**
 * Builds a verifier from `options`. Throws (at creation, naming the option) only for invalid settings;
 * missing settings make the affected tokens fail with `no_verifier` instead.
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const supabaseUrl = normalizeSupabaseUrl(options.supabaseUrl);
  if (options.jwtSecret !== undefined && options.jwtSecret.length < minHs256SecretLength) {
    throw new RangeError(
      `jwtSecret must be at least ${minHs256SecretLength} characters (RFC 7518 requires a 256-bit HS256 key)`,
    );
  }
  if (options.anonKey !== undefined && (options.anonKey === "" || supabaseUrl === undefined)) {
    throw new TypeError(
      "anonKey needs a non-empty value and supabaseUrl (it is only used for Supabase Auth)",
    );
  }
  const clockSkewSeconds = nonNegative("clockSkewSeconds", options.clockSkewSeconds, 30);
  const fetchTimeoutMs = nonNegative("fetchTimeoutMs", options.fetchTimeoutMs, 5_000);
  const now = options.now ?? Date.now;
  const fetchFn: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const expectedIssuer = options.issuer ?? (supabaseUrl === undefined ? undefined : `${supabaseUrl}/auth/v1`);

  const hmacKey = options.jwtSecret === undefined ? undefined : importHmacKey(options.jwtSecret, ["verify"]);
  // A rejected promise nobody awaits yet would be reported as unhandled; verify() awaits it later.
  hmacKey?.catch(() => {});
  const jwks = supabaseUrl === undefined ? undefined : new JwksCache({
    url: `${supabaseUrl}/auth/v1/.well-known/jwks.json`,
    fetch: fetchFn,
    now,
    cacheMs: nonNegative("jwksCacheMs", options.jwksCacheMs, 600_000),
    minRefreshMs: nonNegative("jwksMinRefreshMs", options.jwksMinRefreshMs, 30_000),
    fetchTimeoutMs,
  });
  const remote = supabaseUrl === undefined || options.anonKey === undefined
    ? undefined
    : new RemoteUserCheck(`${supabaseUrl}/auth/v1/user`, options.anonKey, fetchFn, now, fetchTimeoutMs);

  async function verify(token: string | null | undefined): Promise<VerifyResult> {
    const parsed = parseToken(token);
    if (!("claims" in parsed)) return parsed;
    const claimsFailure = checkClaims(parsed.claims, now() / 1000, clockSkewSeconds, expectedIssuer);
    if (claimsFailure) return claimsFailure;
    const { alg, claims } = parsed;

    if (alg === "HS256") {
      // Never anything but the configured secret: a JWKS public key used as an HMAC secret would let
      // anyone who can read the JWKS mint tokens.
      if (hmacKey) {
        const valid = await crypto.subtle.verify(
          "HMAC",
          await hmacKey,
          parsed.signature,
          parsed.signingInput,
        );
        return valid
          ? success(claims)
          : fail("bad_signature", "HS256 signature does not match the jwtSecret");
      }
      if (remote) return await remote.check(token as string, claims);
      return fail(
        "no_verifier",
        "HS256 token, but no jwtSecret (and no anonKey for Supabase Auth) is configured",
      );
    }

    if (!jwks) {
      return fail("no_verifier", `${alg} token, but no supabaseUrl is configured to fetch the JWKS from`);
    }
    const lookup = await jwks.lookup(alg, parsed.kid);
    if (!lookup.found) {
      if (remote && !lookup.fetchFailed) return await remote.check(token as string, claims);
      return fail("unknown_key", lookup.detail);
    }
    for (const { key } of lookup.keys) {
      if (await verifySignature(alg, key, parsed.signature, parsed.signingInput)) return success(claims);
    }
    const which = parsed.kid === undefined ? `any of ${lookup.keys.length} JWKS key(s)` : "the JWKS key";
    return fail("bad_signature", `${alg} signature does not match ${which}`);
  }

  return async (token) => {
    try {
      return await verify(token);
    } catch (error) {
      // Defensive: Web Crypto or a custom fetch threw something unexpected. The message comes from
      // the runtime, not from the token, so it is safe to log.
      const message = error instanceof Error ? error.message : String(error);
      return fail("malformed", `token could not be verified: ${message.slice(0, 200)}`);
    }
  };
}

/**
 * Mints an HS256 token (the relay's local mode `deno task token`, and tests). `header` is merged over
 * `{ alg: "HS256", typ: "JWT" }`; overriding `alg` yields a deliberately mislabelled token for
 * negative tests. `secret` is used as UTF-8 bytes, like Supabase's JWT secret.
 */
export async function signHs256Jwt(
  claims: Record<string, unknown>,
  secret: string,
  header?: Record<string, unknown>,
): Promise<string> {
  if (secret.length < minHs256SecretLength) {
    throw new RangeError(`HS256 secret must be at least ${minHs256SecretLength} characters`);
  }
  const signingInput = `${encodeBase64UrlText(JSON.stringify({ alg: "HS256", typ: "JWT", ...header }))}.${
    encodeBase64UrlText(JSON.stringify(claims))
  }`;
  const key = await importHmacKey(secret, ["sign"]);
  const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(signingInput));
  return `${signingInput}.${encodeBase64Url(new Uint8Array(signature))}`;
}

function parseToken(token: unknown): ParsedToken | Failure {
  if (token === null || token === undefined || token === "") return fail("missing", "no token was sent");
  if (typeof token !== "string") return fail("malformed", `token is a ${typeof token}, not a string`);
  if (token.length > maxTokenLength) {
    return fail("malformed", `token is ${token.length} characters, more than the limit of ${maxTokenLength}`);
  }
  const segments = token.split(".");
  if (segments.length !== 3) return fail("malformed", `token has ${segments.length} segment(s), expected 3`);
  const [headerSegment, payloadSegment, signatureSegment] = segments;

  const header = decodeJsonSegment(headerSegment);
  if (!header) return fail("malformed", "token header is not base64url-encoded JSON object");
  if (typeof header.alg !== "string") return fail("malformed", "token header has no alg");
  if (header.alg.toLowerCase() === "none") {
    return fail("unsupported_alg", "unsigned token (alg none) refused");
  }
  if (header.alg !== "HS256" && header.alg !== "ES256" && header.alg !== "RS256") {
    return fail("unsupported_alg", `alg ${quote(header.alg)} is not one of HS256, ES256, RS256`);
  }
  if (header.kid !== undefined && typeof header.kid !== "string") {
    return fail("malformed", "token kid is not a string");
  }
  if (header.crit !== undefined) {
    return fail("malformed", "token header has crit extensions, none are supported");
  }

  const payload = decodeJsonSegment(payloadSegment);
  if (!payload) return fail("malformed", "token payload is not base64url-encoded JSON object");
  const signature = decodeBase64Url(signatureSegment);
  if (!signature) return fail("malformed", "token signature is not base64url");

  return {
    alg: header.alg,
    kid: header.kid,
    claims: payload as SupabaseClaims,
    signingInput: new TextEncoder().encode(`${headerSegment}.${payloadSegment}`),
    signature,
  };
}

function decodeJsonSegment(segment: string): Record<string, unknown> | null {
  const bytes = decodeBase64Url(segment);
  if (!bytes) return null;
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null;
  } catch {
    return null;
  }
}

function checkClaims(
  claims: Record<string, unknown>,
  nowSeconds: number,
  skewSeconds: number,
  expectedIssuer: string | undefined,
): Failure | null {
  // role first: an anon or service_role key (no sub, no aud) should be reported as what it is.
  if (claims.role !== undefined && claims.role !== userRole) {
    return fail("wrong_role", `role ${quote(claims.role)} is not a user session (expected "${userRole}")`);
  }
  const { aud } = claims;
  if (aud === undefined) return fail("wrong_audience", `token has no aud (expected "${userAudience}")`);
  if (typeof aud !== "string" && !(Array.isArray(aud) && aud.every((a) => typeof a === "string"))) {
    return fail("malformed", "aud is neither a string nor an array of strings");
  }
  if (typeof aud === "string" ? aud !== userAudience : !aud.includes(userAudience)) {
    return fail("wrong_audience", `aud ${quote(aud)} does not include "${userAudience}"`);
  }
  if (typeof claims.sub !== "string" || claims.sub === "") {
    return fail("malformed", "token has no sub (user id)");
  }
  const { exp, nbf, iss } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp)) return fail("malformed", "token has no numeric exp");
  if (nowSeconds >= exp + skewSeconds) {
    return fail("expired", `token expired ${Math.round(nowSeconds - exp)} s ago`);
  }
  if (nbf !== undefined) {
    if (typeof nbf !== "number" || !Number.isFinite(nbf)) return fail("malformed", "nbf is not a number");
    if (nowSeconds + skewSeconds < nbf) {
      return fail("not_yet_valid", `token is not valid for another ${Math.round(nbf - nowSeconds)} s`);
    }
  }
  if (iss !== undefined && typeof iss !== "string") return fail("malformed", "iss is not a string");
  if (expectedIssuer !== undefined && iss !== expectedIssuer) {
    return fail(
      "wrong_issuer",
      iss === undefined
        ? `token has no iss (expected ${quote(expectedIssuer)})`
        : `iss ${quote(iss)} is not the expected ${quote(expectedIssuer)}`,
    );
  }
  return null;
}

async function verifySignature(
  alg: JwksAlgorithm,
  key: CryptoKey,
  signature: Bytes,
  data: Bytes,
): Promise<boolean> {
  try {
    if (alg === "ES256") {
      // JWS ES256 signatures are raw r||s (RFC 7518 §3.4), the format Web Crypto expects; DER is invalid.
      if (signature.length !== 64) return false;
      return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, data);
    }
    return await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, data);
  } catch {
    // Some runtimes throw instead of returning false for a signature of the wrong size.
    return false;
  }
}

interface RemoteCacheEntry {
  result: VerifyResult;
  until: number;
}

/** The slow path: Supabase Auth decides, with answers cached per token hash. */
class RemoteUserCheck {
  readonly #cache = new Map<string, RemoteCacheEntry>();
  readonly #inFlight = new Map<string, Promise<VerifyResult>>();

  constructor(
    readonly url: string,
    readonly anonKey: string,
    readonly fetchFn: typeof fetch,
    readonly now: () => number,
    readonly timeoutMs: number,
  ) {}

  /** Asks Auth about `token` (whose claims already passed the local checks), or reuses a recent answer. */
  async check(token: string, claims: SupabaseClaims): Promise<VerifyResult> {
    const hash = await sha256Hex(token);
    const cached = this.#cache.get(hash);
    if (cached && this.now() < cached.until) return cached.result;
    if (cached) this.#cache.delete(hash);
    let pending = this.#inFlight.get(hash);
    if (!pending) {
      pending = this.#ask(token, claims).then((result) => {
        // Definite answers only: an outage must not be remembered once Auth is back.
        if (result.ok || result.reason === "remote_rejected") {
          this.#remember(hash, result, Math.min(claims.exp * 1000, this.now() + remoteResultCacheMs));
        }
        return result;
      }).finally(() => this.#inFlight.delete(hash));
      this.#inFlight.set(hash, pending);
    }
    return await pending;
  }

  async #ask(token: string, claims: SupabaseClaims): Promise<VerifyResult> {
    let answer;
    try {
      answer = await fetchText(this.fetchFn, this.url, {
        headers: { apikey: this.anonKey, authorization: `Bearer ${token}`, accept: "application/json" },
        timeoutMs: this.timeoutMs,
        maxBodyBytes: maxAuthUserBytes,
      });
    } catch (error) {
      return fail("remote_unavailable", error instanceof Error ? error.message : String(error));
    }
    if (answer.status === 401 || answer.status === 403) {
      const code = authErrorCode(answer.body);
      return fail("remote_rejected", `Supabase Auth refused the token (HTTP ${answer.status}${code})`);
    }
    if (answer.status !== 200) {
      return fail("remote_unavailable", `GET ${this.url} answered HTTP ${answer.status}`);
    }
    let user: unknown;
    try {
      user = JSON.parse(answer.body);
    } catch {
      return fail("remote_unavailable", `GET ${this.url} answered 200 without JSON`);
    }
    const id = typeof user === "object" && user !== null ? (user as Record<string, unknown>).id : undefined;
    if (typeof id !== "string" || id === "") {
      return fail("remote_unavailable", `GET ${this.url} answered 200 without a user id`);
    }
    if (id !== claims.sub) {
      return fail("remote_rejected", "Supabase Auth returned a different user than the token's sub");
    }
    return { ok: true, userId: id, claims };
  }

  #remember(hash: string, result: VerifyResult, until: number): void {
    if (this.#cache.size >= remoteResultCacheEntries) {
      const now = this.now();
      for (const [key, entry] of this.#cache) if (entry.until <= now) this.#cache.delete(key);
      // Still full: drop the oldest entries (Map iterates in insertion order).
      for (const key of this.#cache.keys()) {
        if (this.#cache.size < remoteResultCacheEntries) break;
        this.#cache.delete(key);
      }
    }
    this.#cache.set(hash, { result, until });
  }
}

/** GoTrue's `error_code` (e.g. "bad_jwt", "session_not_found") when it looks like one, for the log line. */
function authErrorCode(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const code = typeof parsed === "object" && parsed !== null
      ? (parsed as Record<string, unknown>).error_code
      : undefined;
    return typeof code === "string" && /^[a-z0-9_]{1,64}$/.test(code) ? `, ${code}` : "";
  } catch {
    return "";
  }
}

function success(claims: SupabaseClaims): VerifyResult {
  return { ok: true, userId: claims.sub, claims };
}

function fail(reason: AuthFailureReason, detail: string): Failure {
  return { ok: false, reason, detail };
}

function importHmacKey(secret: string, usages: KeyUsage[]): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    usages,
  );
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function normalizeSupabaseUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`supabaseUrl ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new TypeError(`supabaseUrl ${JSON.stringify(url)} must start with http:// or https://`);
  }
  return url.replace(/\/+$/, "");
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number`);
  return value;
}

/** JSON-quotes an untrusted claim for a log line, cut to a readable length. */
function quote(value: unknown): string {
  const quoted = JSON.stringify(value) ?? String(value);
  return quoted.length > 66 ? `${quoted.slice(0, 63)}...` : quoted;
}
