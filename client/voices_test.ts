import assert from "node:assert/strict";
import { isRealtimeVoice, REALTIME_VOICES } from "../shared/protocol/voices.ts";
import { isVoice, type Voice, VOICES } from "./voices.ts";

Deno.test("the client offers exactly the voices the relay accepts, under its own names", () => {
  assert.equal(VOICES, REALTIME_VOICES, "one list, not a copy");
  assert.equal(isVoice, isRealtimeVoice);
  assert.equal(new Set(VOICES).size, 10);
  const picked: Voice = "marin";
  assert.ok(isVoice(picked));
  assert.ok(isVoice("cedar"));
  assert.ok(!isVoice("nova"));
  assert.ok(!isVoice(undefined));
});
