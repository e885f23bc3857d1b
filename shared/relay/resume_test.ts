import assert from "node:assert/strict";
import { historyItemEvents, selectHistory } from "./resume.ts";

const at = (i: number) => new Date(Date.UTC(2026, 10, 21, 0, 0, i)).toISOString();

Deno.test("the newest turns that fit the budget are replayed oldest first", () => {
  const newestFirst = [
    { role: "assistant", content: "d".repeat(40), createdAt: at(4) },
    { role: "user", content: "c".repeat(40), createdAt: at(3) },
    { role: "system", content: "ignored", createdAt: at(2) },
    { role: "assistant", content: "b".repeat(40), createdAt: at(1) },
    { role: "user", content: "a".repeat(40), createdAt: at(0) },
  ];
  assert.deepEqual(selectHistory(newestFirst, 25).map((m) => m.content[0]), ["c", "d"]);
  assert.deepEqual(selectHistory(newestFirst, 1000).map((m) => m.content[0]), ["a", "b", "c", "d"]);
  assert.deepEqual(selectHistory(newestFirst, 0), []);
});

Deno.test("items use the GA content types per role", () => {
  const [user, assistant] = historyItemEvents([
    { role: "user", content: "hi", createdAt: at(0) },
    { role: "assistant", content: "hello", createdAt: at(1) },
  ], "resume").map((e) => JSON.parse(e));
  assert.deepEqual(user.item, {
    type: "message",
    role: "user",
    content: [{ type: "input_text", text: "hi" }],
  });
  assert.equal(assistant.item.content[0].type, "output_text");
  assert.equal(assistant.event_id, "resume_1");
});
