/**
 * Base64url without padding (RFC 4648 §5), the encoding of every JWS segment (RFC 7515 §2).
 *
 * Decoding is strict: only the url-safe alphabet, no padding, no whitespace, and only the canonical
 * encoding of the bytes is accepted, so a token has exactly one spelling. Works on every runtime the
 * relay targets (no `Uint8Array.fromBase64`, which Supabase's Deno 2.1 lacks).
 *
 * @module
 */

const base64UrlAlphabet = /^[A-Za-z0-9_-]*$/;
// String.fromCharCode(...chunk) spreads arguments; keep chunks well below engines' argument limits.
const chunkSize = 0x8000;

/** Encodes bytes as unpadded base64url. */
export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let start = 0; start < bytes.length; start += chunkSize) {
    binary += String.fromCharCode(...bytes.subarray(start, start + chunkSize));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Encodes the UTF-8 bytes of `text` as unpadded base64url (JWS header and payload segments). */
export function encodeBase64UrlText(text: string): string {
  return encodeBase64Url(new TextEncoder().encode(text));
}

/**
 * Decodes unpadded base64url; returns null (never throws) for anything that is not the canonical
 * encoding of some bytes: other characters, padding, an impossible length, or non-zero spare bits.
 */
export function decodeBase64Url(text: string) {
  if (!base64UrlAlphabet.test(text) || text.length % 4 === 1) return null;
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  let binary: string;
  try {
    binary = atob(base64);
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // "QR" and "QQ" both decode to "A"; only the canonical one is a valid segment.
  if (encodeBase64Url(bytes) !== text) return null;
  return bytes;
}
