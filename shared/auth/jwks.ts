/**
 * The Supabase project's public signing keys (JWKS), fetched lazily and cached.
 *
 * Only keys that can verify ES256 (EC P-256) or RS256 (RSA, at least 2048 bits) tokens are kept;
 * symmetric (`oct`) keys, keys marked for another `use`, and keys whose `alg` names something else are
 * dropped when the set is read, so a token can never be checked with a key of the wrong kind.
 *
 * Fetch policy: the first lookup fetches; a set older than `cacheMs` is refetched; a `kid` that is not
 * in the set triggers a refetch (keys rotate), but no fetch of any kind starts within `minRefreshMs`
 * of the previous one, so tokens with forged kids, or an unreachable endpoint, cannot make the relay
 * hammer Supabase. Concurrent lookups share one in-flight fetch. When a refetch fails, the previous
 * set stays in use.
 *
 * @module
 */
import { decodeBase64Url } from "./base64url.ts";
import { fetchText } from "./http.ts";

/** Token algorithms whose keys come from the JWKS. */
export type JwksAlgorithm = "ES256" | "RS256";

/** One usable verification key from the set. */
export interface JwksKey {
  /** The JWK's `kid`; undefined when the JWK has none. */
  kid: string | undefined;
  alg: JwksAlgorithm;
  key: CryptoKey;
}

/** Result of {@link JwksCache.lookup}. */
export type JwksLookup =
  | { found: true; keys: JwksKey[] }
  | {
    found: false;
    /** True when no key set could be fetched at all (as opposed to: fetched, but no key fits). */
    fetchFailed: boolean;
    /** One sentence for logs; names the JWKS URL, never a token. */
    detail: string;
  };

/** Settings of a {@link JwksCache}. */
export interface JwksCacheOptions {
  /** The JWKS endpoint, e.g. `${SUPABASE_URL}/auth/v1/.well-known/jwks.json`. */
  url: string;
  /** Default: `globalThis.fetch` (looked up per call). */
  fetch?: typeof fetch;
  /** Milliseconds since the epoch. Default: `Date.now`. */
  now?: () => number;
  /** How long a fetched set is used before it is refetched. Default 600_000 (Supabase caches 10 min). */
  cacheMs?: number;
  /** Minimum time between two fetch attempts, whatever triggers them. Default 30_000. */
  minRefreshMs?: number;
  /** Deadline for one fetch. Default 5_000. */
  fetchTimeoutMs?: number;
}

/** Largest JWKS document accepted; Supabase's holds a handful of keys (a few KB). */
export const maxJwksBytes = 256 * 1024;
/** Smallest accepted RSA modulus (RFC 7518 §3.3 requires 2048 bits for RS256). */
export const minRsaModulusBits = 2048;

interface KeySet {
  keys: JwksKey[];
  fetchedAt: number;
  /** JWKs present in the document but unusable, e.g. `enc` keys or other algorithms. */
  skipped: number;
}

/** A lazily fetched, cached, rate-limited view of one JWKS endpoint. See the module doc. */
export class JwksCache {
  /** The endpoint this cache reads. */
  readonly url: string;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #cacheMs: number;
  readonly #minRefreshMs: number;
  readonly #fetchTimeoutMs: number;
  #keySet: KeySet | undefined;
  #lastAttemptAt: number | undefined;
  #lastError: string | undefined;
  #inFlight: Promise<void> | undefined;

  constructor(options: JwksCacheOptions) {
    this.url = options.url;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#now = options.now ?? Date.now;
    this.#cacheMs = options.cacheMs ?? 600_000;
    this.#minRefreshMs = options.minRefreshMs ?? 30_000;
    this.#fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
  }

  /**
   * The keys able to verify a token signed with `alg` and carrying `kid` (all keys for `alg` when the
   * token has no kid). Fetches or refetches as described in the module doc. Never throws.
   */
  async lookup(alg: JwksAlgorithm, kid: string | undefined): Promise<JwksLookup> {
    let fetchedNow = false;
    const cached = this.#keySet;
    if (!cached || this.#now() - cached.fetchedAt >= this.#cacheMs) {
      if (this.#mayFetch()) {
        await this.#refresh();
        fetchedNow = true;
      }
    }
    let keys = this.#select(alg, kid);
    if (keys.length === 0 && !fetchedNow && this.#mayFetch()) {
      // An unknown kid usually means the project rotated its keys since the last fetch.
      await this.#refresh();
      keys = this.#select(alg, kid);
    }
    if (keys.length > 0) return { found: true, keys };
    return this.#notFound(alg, kid);
  }

  #mayFetch(): boolean {
    if (this.#inFlight) return true; // joining costs nothing
    if (this.#lastAttemptAt === undefined) return true;
    return this.#now() - this.#lastAttemptAt >= this.#minRefreshMs;
  }

  #refresh(): Promise<void> {
    if (!this.#inFlight) {
      this.#lastAttemptAt = this.#now();
      this.#inFlight = this.#fetchKeySet().finally(() => {
        this.#inFlight = undefined;
      });
    }
    return this.#inFlight;
  }

  async #fetchKeySet(): Promise<void> {
    try {
      const { status, body } = await fetchText(this.#fetch, this.url, {
        timeoutMs: this.#fetchTimeoutMs,
        maxBodyBytes: maxJwksBytes,
        headers: { accept: "application/json" },
      });
      if (status !== 200) throw new Error(`GET ${this.url} answered HTTP ${status}`);
      let document: unknown;
      try {
        document = JSON.parse(body);
      } catch {
        throw new Error(`GET ${this.url} did not return JSON`);
      }
      const jwks = isRecord(document) ? document.keys : undefined;
      if (!Array.isArray(jwks)) throw new Error(`GET ${this.url} returned no "keys" array`);
      const keys: JwksKey[] = [];
      for (const jwk of jwks) {
        const usable = await importVerificationKey(jwk);
        if (usable) keys.push(usable);
      }
      this.#keySet = { keys, fetchedAt: this.#now(), skipped: jwks.length - keys.length };
      this.#lastError = undefined;
    } catch (error) {
      this.#lastError = error instanceof Error ? error.message : String(error);
    }
  }

  #select(alg: JwksAlgorithm, kid: string | undefined): JwksKey[] {
    const keys = this.#keySet?.keys ?? [];
    return keys.filter((k) => k.alg === alg && (kid === undefined || k.kid === kid));
  }

  #notFound(alg: JwksAlgorithm, kid: string | undefined): JwksLookup {
    const keySet = this.#keySet;
    if (!keySet) {
      return {
        found: false,
        fetchFailed: true,
        detail: `could not fetch the JWKS from ${this.url}: ${this.#lastError ?? "no attempt yet"}`,
      };
    }
    const wanted = kid === undefined ? `${alg} key` : `${alg} key with kid ${quote(kid)}`;
    const skipped = keySet.skipped > 0 ? ` (${keySet.skipped} unusable key(s) ignored)` : "";
    const stale = this.#lastError ? `; last refresh failed: ${this.#lastError}` : "";
    return {
      found: false,
      fetchFailed: false,
      detail: `no ${wanted} in the JWKS at ${this.url}${skipped}${stale}`,
    };
  }
}

/**
 * Turns one JWK into a verification key, or null when it is not a public signing key for ES256 or
 * RS256. Only the public parameters are imported (a stray private `d` is never used).
 */
export async function importVerificationKey(jwk: unknown): Promise<JwksKey | null> {
  if (!isRecord(jwk)) return null;
  if (jwk.use !== undefined && jwk.use !== "sig") return null;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify"))) {
    return null;
  }
  if (jwk.kid !== undefined && typeof jwk.kid !== "string") return null;
  const kid = jwk.kid as string | undefined;
  try {
    if (jwk.kty === "EC" && jwk.crv === "P-256" && (jwk.alg === undefined || jwk.alg === "ES256")) {
      if (typeof jwk.x !== "string" || typeof jwk.y !== "string") return null;
      // Web Crypto (Deno) imports any x/y without checking them; a bogus point would only fail later.
      if (!isP256Point(decodeBase64Url(jwk.x), decodeBase64Url(jwk.y))) return null;
      const key = await crypto.subtle.importKey(
        "jwk",
        { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
        { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["verify"],
      );
      return { kid, alg: "ES256", key };
    }
    if (jwk.kty === "RSA" && (jwk.alg === undefined || jwk.alg === "RS256")) {
      if (typeof jwk.n !== "string" || typeof jwk.e !== "string") return null;
      const modulus = decodeBase64Url(jwk.n);
      if (!modulus || modulusBits(modulus) < minRsaModulusBits) return null;
      const key = await crypto.subtle.importKey(
        "jwk",
        { kty: "RSA", n: jwk.n, e: jwk.e },
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        false,
        ["verify"],
      );
      return { kid, alg: "RS256", key };
    }
  } catch {
    // Invalid coordinates or parameters: the key is unusable, like any other unfit key.
  }
  return null;
}

const p256Prime = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const p256B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/** True when x and y are full-size (32-byte, RFC 7518 §6.2.1.2) coordinates of a point on P-256. */
function isP256Point(x: Uint8Array | null, y: Uint8Array | null): boolean {
  if (!x || !y || x.length !== 32 || y.length !== 32) return false;
  const px = toBigInt(x);
  const py = toBigInt(y);
  if (px >= p256Prime || py >= p256Prime) return false;
  // y² = x³ - 3x + b (mod p)
  const left = (py * py) % p256Prime;
  const right = (((px * px % p256Prime) * px - 3n * px + p256B) % p256Prime + p256Prime) % p256Prime;
  return left === right;
}

function toBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function modulusBits(modulus: Uint8Array): number {
  let start = 0;
  while (start < modulus.length && modulus[start] === 0) start++;
  if (start === modulus.length) return 0;
  return (modulus.length - start - 1) * 8 + (32 - Math.clz32(modulus[start]));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON-quotes an untrusted value for a log line, cut to a readable length. */
function quote(value: string): string {
  const quoted = JSON.stringify(value);
  return quoted.length > 66 ? `${quoted.slice(0, 63)}..."` : quoted;
}
