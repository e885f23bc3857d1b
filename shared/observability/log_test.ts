import assert from "node:assert/strict";
import { createLogger, scrub } from "./log.ts";

Deno.test("lines are JSON with the event, the level and base fields; below-level lines are dropped", () => {
  const lines: string[] = [];
  const log = createLogger({
    level: "info",
    secrets: [],
    write: (l) => lines.push(l),
    base: { runtime: "deno" },
    now: () => 0,
  });
  log.debug("hidden");
  log.info("session_start", { user: "u1", count: 2, skipped: undefined });
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), {
    ts: "1970-01-01T00:00:00.000Z",
    level: "info",
    event: "session_start",
    runtime: "deno",
    user: "u1",
    count: 2,
  });
});

Deno.test("secrets, JWT-shaped strings, API keys and base64 blobs are scrubbed from every value", () => {
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
  const lines: string[] = [];
  const log = createLogger({
    level: "debug",
    secrets: ["my-service-role-key-123"],
    write: (l) => lines.push(l),
  });
  log.error("upstream_dial_failed", {
    detail: `bad token ${jwt} with key sk-proj-abcdefghijklmnop and my-service-role-key-123`,
    list: [jwt],
    audio: "A".repeat(400),
  });
  const line = lines[0];
  assert.ok(
    !line.includes(jwt) && !line.includes("sk-proj-abcdefghijklmnop") &&
      !line.includes("my-service-role-key-123"),
  );
  assert.ok(!line.includes("A".repeat(200)));
  assert.match(line, /\[jwt\].*\[key\].*\[redacted\]/);
  assert.equal(scrub("plain words stay", []), "plain words stay");
});
