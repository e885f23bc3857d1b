import assert from "node:assert/strict";
import { REALTIME_VOICES } from "../shared/relay/agent_session.ts";
import { isVoice, VOICES } from "./voices.ts";

Deno.test("the client offers exactly the voices the relay accepts", () => {
  assert.deepEqual([...VOICES].sort(), [...REALTIME_VOICES].sort());
  assert.equal(new Set(VOICES).size, 10);
  assert.ok(isVoice("marin"));
  assert.ok(!isVoice("nova"));
  assert.ok(!isVoice(undefined));
});
