/**
 * Reads an event's `type` without parsing the whole frame. Audio frames are ~1.3 KB of base64 each,
 * 50 a second per session: parsing every one just to learn its type would dominate the relay's CPU.
 *
 * @module
 */

const typePrefix = '{"type":"';

/**
 * Returns the `type` of a JSON event, or undefined when the frame is not a JSON object with a string
 * `type`. Fast when `type` is the first key (as every SDK sends it); falls back to `JSON.parse`.
 */
export function sniffEventType(text: string): string | undefined {
  if (text.startsWith(typePrefix)) {
    const end = text.indexOf('"', typePrefix.length);
    if (end > typePrefix.length) {
      const type = text.slice(typePrefix.length, end);
      if (!type.includes("\\")) return type;
    }
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      const type = (parsed as { type?: unknown }).type;
      return typeof type === "string" ? type : undefined;
    }
  } catch {
    // not JSON: the caller decides what an untyped frame means
  }
  return undefined;
}
