import assert from "node:assert/strict";
import { Emitter } from "./emitter.ts";

Deno.test("listeners get their events, can be removed, and a throwing one does not stop the others", () => {
  const emitter = new Emitter<{ state: string; level: number }>();
  const states: string[] = [];
  const reported: unknown[] = [];
  const scope = globalThis as { reportError?: (e: unknown) => void };
  const saved = scope.reportError;
  scope.reportError = (e) => reported.push(e);
  try {
    emitter.on("state", () => {
      throw new Error("app bug");
    });
    const off = emitter.on("state", (s) => states.push(s));
    emitter.emit("state", "ready");
    emitter.emit("level", 0.5);
    off();
    emitter.emit("state", "closed");
  } finally {
    scope.reportError = saved;
  }
  assert.deepEqual(states, ["ready"]);
  assert.equal(reported.length, 2);
});
