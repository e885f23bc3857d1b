import assert from "node:assert/strict";
import { type ClosedSocket, endpointUrl, nextStepAfterClose, plannedEndOf } from "./continuity.ts";
import { resolveVoiceEndpoint } from "./endpoint.ts";
import { defaultReconnectPolicy } from "./reconnect.ts";

const policy = defaultReconnectPolicy;
/** A socket that closed right after a good session, with nothing announced. */
const base: ClosedSocket = {
  code: 1006,
  attemptsSoFar: 0,
  sentRememberedConversation: false,
  sessionStarted: true,
};
const endingOnEdge = plannedEndOf({
  type: "relay.session_ending",
  reason: "edge_wall_clock",
  seconds_left: 15,
  retry: true,
});
const endingAtCap = plannedEndOf({
  type: "relay.session_ending",
  reason: "max_session_seconds",
  seconds_left: 15,
  retry: true,
});
const draining = plannedEndOf({ type: "relay.draining", retry_after_ms: 250, drain_seconds: 30 });

Deno.test("the relay's notices are read as planned ends; other events and retry:false are not", () => {
  assert.deepEqual(endingOnEdge, { notice: "session_ending", reason: "edge_wall_clock" });
  assert.deepEqual(endingAtCap, { notice: "session_ending", reason: "max_session_seconds" });
  assert.deepEqual(draining, { notice: "draining", retryAfterMs: 250 });
  assert.deepEqual(plannedEndOf({ type: "relay.draining" }), { notice: "draining", retryAfterMs: 0 });
  assert.deepEqual(plannedEndOf({ type: "relay.draining", retry_after_ms: "soon" }), {
    notice: "draining",
    retryAfterMs: 0,
  });
  assert.equal(plannedEndOf({ type: "relay.session_ending", reason: "max_session_seconds" }), undefined);
  assert.equal(plannedEndOf({ type: "relay.session_ending", retry: false }), undefined);
  assert.equal(plannedEndOf({ type: "relay.conversation", conversation_id: "c" }), undefined);
  assert.equal(plannedEndOf({ type: "error" }), undefined);
});

Deno.test("after session_ending the relay's close (1000) means reconnect at once; edge limits leave the edge", () => {
  // A backoff would draw from `random`; a planned move must not.
  const noJitter = () => {
    throw new Error("a planned reconnect used the backoff");
  };
  assert.deepEqual(nextStepAfterClose({ ...base, code: 1000, plannedEnd: endingOnEdge }, policy, noJitter), {
    action: "reconnect",
    delayMs: 0,
    planned: true,
    leaveEdge: true,
    forgetConversation: false,
  });
  assert.deepEqual(nextStepAfterClose({ ...base, code: 1000, plannedEnd: endingAtCap }, policy, noJitter), {
    action: "reconnect",
    delayMs: 0,
    planned: true,
    leaveEdge: false,
    forgetConversation: false,
  });
  // The platform may cut the socket before the relay's own close.
  const cut = nextStepAfterClose({ ...base, code: 1006, plannedEnd: endingOnEdge }, policy, noJitter);
  assert.equal(cut.action === "reconnect" && cut.delayMs === 0 && cut.leaveEdge, true);
});

Deno.test("after draining the close (1012) reconnects after the relay's hint, capped by the policy", () => {
  assert.deepEqual(nextStepAfterClose({ ...base, code: 1012, plannedEnd: draining }, policy), {
    action: "reconnect",
    delayMs: 250,
    planned: true,
    leaveEdge: false,
    forgetConversation: false,
  });
  const longHint = plannedEndOf({ type: "relay.draining", retry_after_ms: 3_600_000 });
  const step = nextStepAfterClose({ ...base, code: 1012, plannedEnd: longHint }, policy);
  assert.equal(step.action === "reconnect" && step.delayMs, policy.maxDelayMs);
});

Deno.test("without a notice: backoff after abnormal ends, stop after normal ends", () => {
  const step = nextStepAfterClose({ ...base, code: 1012 }, policy, () => 1);
  assert.deepEqual(step, {
    action: "reconnect",
    delayMs: 500,
    planned: false,
    leaveEdge: false,
    forgetConversation: false,
  });
  const third = nextStepAfterClose({ ...base, code: 1006, attemptsSoFar: 2 }, policy, () => 1);
  assert.equal(third.action === "reconnect" && third.delayMs, 2000);
  assert.deepEqual(nextStepAfterClose({ ...base, code: 1000 }, policy), { action: "stop" });
});

Deno.test("4001/4003/4029 stop even after a notice; attempts and `reconnect: false` bound everything", () => {
  for (const code of [4001, 4003, 4029]) {
    for (const plannedEnd of [undefined, endingOnEdge, draining]) {
      assert.deepEqual(
        nextStepAfterClose({ ...base, code, plannedEnd }, policy),
        { action: "stop" },
        `${code}`,
      );
    }
  }
  assert.deepEqual(
    nextStepAfterClose(
      { ...base, code: 1000, plannedEnd: endingOnEdge, attemptsSoFar: policy.maxAttempts },
      policy,
    ),
    { action: "stop" },
  );
  assert.deepEqual(nextStepAfterClose({ ...base, code: 1000, plannedEnd: draining }, undefined), {
    action: "stop",
  });
});

Deno.test("a 4003 refusing the remembered conversation id starts a new conversation once, at once", () => {
  const refused = { ...base, code: 4003, sentRememberedConversation: true, sessionStarted: false };
  assert.deepEqual(nextStepAfterClose(refused, policy), {
    action: "reconnect",
    delayMs: 0,
    planned: false,
    leaveEdge: false,
    forgetConversation: true,
  });
  // Once forgotten the id is not sent, so the next 4003 is final: no loop.
  assert.deepEqual(
    nextStepAfterClose({ ...refused, sentRememberedConversation: false, attemptsSoFar: 1 }, policy),
    { action: "stop" },
  );
  // An id the app asked for, or a refusal after the session started, stays final.
  assert.deepEqual(nextStepAfterClose({ ...refused, sentRememberedConversation: false }, policy), {
    action: "stop",
  });
  assert.deepEqual(nextStepAfterClose({ ...refused, sessionStarted: true }, policy), { action: "stop" });
});

Deno.test("leaving the edge goes to the VPS candidate, never to the page's own origin", () => {
  const page = { protocol: "https:", host: "app.example.com" };
  const both = resolveVoiceEndpoint({
    VITE_VOICE_WEBSOCKET_URL: "wss://voice.example.com/v1/realtime",
    VITE_SUPABASE_URL: "https://abcdefgh.supabase.co",
  }, page);
  const onEdge = { ...both.candidates[1], candidates: both.candidates };
  assert.equal(endpointUrl(onEdge, false), "wss://abcdefgh.supabase.co/functions/v1/realtime-voice");
  assert.equal(endpointUrl(onEdge, true), "wss://voice.example.com/v1/realtime");
  // Already on the VPS relay: it stays there.
  assert.equal(endpointUrl(both, true), "wss://voice.example.com/v1/realtime");
  // Only the edge is configured: the same-origin candidate is not a relay, so the client stays.
  const edgeOnly = resolveVoiceEndpoint({ VITE_SUPABASE_URL: "https://abcdefgh.supabase.co" }, page);
  assert.equal(edgeOnly.candidates.length, 2);
  assert.equal(endpointUrl(edgeOnly, true), "wss://abcdefgh.supabase.co/functions/v1/realtime-voice");
  // A plain URL carries no kind: used as given.
  assert.equal(endpointUrl("wss://x.example/v1/realtime", true), "wss://x.example/v1/realtime");
});
