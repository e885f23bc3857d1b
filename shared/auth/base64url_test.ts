import assert from "node:assert/strict";
import { decodeBase64Url, encodeBase64Url, encodeBase64UrlText } from "./base64url.ts";

Deno.test("base64url round-trips every length and byte value, without padding", () => {
  for (let length = 0; length < 70; length++) {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) % 256);
    const encoded = encodeBase64Url(bytes);
    assert.match(encoded, /^[A-Za-z0-9_-]*$/);
    assert.deepEqual(decodeBase64Url(encoded), bytes);
  }
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(decodeBase64Url(encodeBase64Url(all)), all);
  const large = new Uint8Array(100_000).fill(0xfb);
  assert.deepEqual(decodeBase64Url(encodeBase64Url(large)), large);
});

Deno.test("base64url uses the url-safe alphabet and encodes text as UTF-8", () => {
  assert.equal(encodeBase64Url(new Uint8Array([0xfb, 0xff, 0xbf])), "-_-_");
  assert.equal(encodeBase64UrlText('{"alg":"HS256"}'), "eyJhbGciOiJIUzI1NiJ9");
  assert.equal(encodeBase64UrlText("é"), "w6k");
});

Deno.test("base64url decoding refuses anything but the canonical unpadded encoding", () => {
  for (const bad of ["QQ==", "+/8", "ab cd", "a\nb", "A", "QR", "QUJ", "é"]) {
    assert.equal(decodeBase64Url(bad), null, bad);
  }
  assert.deepEqual(decodeBase64Url("QQ"), new Uint8Array([0x41]));
  assert.deepEqual(decodeBase64Url("QUI"), new Uint8Array([0x41, 0x42]));
  assert.deepEqual(decodeBase64Url(""), new Uint8Array(0));
});
