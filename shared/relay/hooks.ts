/**
 * Runs several {@link SessionHooks} as one, in order. A client frame is forwarded only when every
 * hook lets it through; a replacement from one hook is what the next hook sees.
 *
 * @module
 */
import type { SessionHooks } from "./session.ts";

/** Combines hook sets; absent members cost nothing. */
export function combineHooks(...sets: Array<SessionHooks | undefined>): SessionHooks {
  const hooks = sets.filter((h): h is SessionHooks => h !== undefined);
  const pick = <K extends keyof SessionHooks>(name: K) =>
    hooks.map((h) => h[name]).filter((f): f is NonNullable<SessionHooks[K]> => f !== undefined);
  const clientOpen = pick("onClientOpen");
  const upstreamOpen = pick("onUpstreamOpen");
  const clientText = pick("onClientText");
  const clientBinary = pick("onClientBinary");
  const upstreamEvent = pick("onUpstreamEvent");
  const end = pick("onEnd");
  const combined: SessionHooks = {};
  if (clientOpen.length) combined.onClientOpen = (s) => clientOpen.forEach((f) => f(s));
  if (upstreamOpen.length) combined.onUpstreamOpen = (s) => upstreamOpen.forEach((f) => f(s));
  if (clientText.length) {
    combined.onClientText = (s, type, text) => {
      let frame = text;
      let replaced = false;
      for (const f of clientText) {
        const verdict = f(s, type, frame);
        if (verdict === false) return false;
        if (typeof verdict === "string") {
          frame = verdict;
          replaced = true;
        }
      }
      return replaced ? frame : true;
    };
  }
  if (clientBinary.length) combined.onClientBinary = (s, bytes) => clientBinary.every((f) => f(s, bytes));
  if (upstreamEvent.length) {
    combined.onUpstreamEvent = (s, type, text) => upstreamEvent.forEach((f) => f(s, type, text));
  }
  if (end.length) combined.onEnd = (s, e) => end.forEach((f) => f(s, e));
  return combined;
}
