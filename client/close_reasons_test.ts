import assert from "node:assert/strict";
import { describeClose, describeServerError } from "./close_reasons.ts";

Deno.test("close codes read as plain sentences and keep the relay's reason", () => {
  assert.equal(
    describeClose(4001, "Unauthorized"),
    "The voice service did not accept your sign-in. Sign in again. (Unauthorized)",
  );
  assert.equal(
    describeClose(1013, "Relay at capacity (6 sessions)"),
    "The voice service is busy right now. (Relay at capacity (6 sessions))",
  );
  assert.equal(describeClose(1006, ""), "The connection to the voice service was lost.");
  assert.equal(
    describeClose(4555, "custom"),
    "The connection to the voice service closed (code 4555). (custom)",
  );
});

Deno.test("server errors keep their message; unknown shapes still give a sentence", () => {
  assert.equal(
    describeServerError({ code: "invalid_value", message: "Bad audio_end_ms" }),
    "Bad audio_end_ms",
  );
  assert.match(
    describeServerError({ code: "upstream_unavailable", message: "dial failed" }),
    /could not reach the AI model.*dial failed/,
  );
  assert.equal(describeServerError({ code: "x" }), "The voice service reported an error (x).");
  assert.equal(describeServerError(undefined), "The voice service reported an error.");
});
