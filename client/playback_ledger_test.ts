import assert from "node:assert/strict";
import { PlaybackLedger, truncationPoint } from "./playback_ledger.ts";

Deno.test("chunks are scheduled back to back after a lead, so playback is gapless", () => {
  const ledger = new PlaybackLedger(0.05);
  assert.equal(ledger.schedule("item_a", 0.1, 10), 10.05);
  // Later chunks arrive while the first still plays: they start exactly where the previous ends.
  assert.equal(ledger.schedule("item_a", 0.1, 10.02), 10.15);
  assert.ok(Math.abs(ledger.schedule("item_a", 0.1, 10.1) - 10.25) < 1e-9);
  assert.ok(Math.abs(ledger.endsAt - 10.35) < 1e-9);
  assert.equal(ledger.underruns, 0);
  assert.ok(ledger.isPlaying(10.3));
  assert.ok(!ledger.isPlaying(10.36));
});

Deno.test("played time follows the clock and never exceeds what was received", () => {
  const ledger = new PlaybackLedger(0.05);
  ledger.schedule("item_a", 0.1, 0);
  ledger.schedule("item_a", 0.1, 0);
  assert.equal(ledger.playedMs("item_a", 0.04), 0, "still in the lead");
  assert.ok(Math.abs(ledger.playedMs("item_a", 0.1) - 50) < 1e-6);
  assert.ok(Math.abs(ledger.playedMs("item_a", 0.2) - 150) < 1e-6);
  assert.ok(Math.abs(ledger.playedMs("item_a", 99) - 200) < 1e-6);
  assert.ok(Math.abs(ledger.receivedMs("item_a") - 200) < 1e-6);
  assert.equal(ledger.playedMs("item_unknown", 1), 0);
});

Deno.test("a chunk arriving after playback ran dry starts after a fresh lead and counts as an underrun", () => {
  const ledger = new PlaybackLedger(0.05);
  ledger.schedule("item_a", 0.1, 0);
  assert.equal(ledger.schedule("item_a", 0.1, 1), 1.05);
  assert.equal(ledger.underruns, 1);
  // The gap is not counted as played.
  assert.ok(Math.abs(ledger.playedMs("item_a", 1.1) - 150) < 1e-6);
  // A new item after silence is not an underrun.
  ledger.schedule("item_b", 0.1, 5);
  assert.equal(ledger.underruns, 1);
});

Deno.test("stop reports the interrupted item with played and received time, then starts fresh", () => {
  const ledger = new PlaybackLedger(0.05);
  ledger.schedule("item_done", 0.1, 0); // plays 0.05..0.15
  ledger.schedule("item_cut", 0.1, 1); // 1.05..1.15
  ledger.schedule("item_cut", 0.1, 1.01); // 1.15..1.25
  ledger.schedule("item_cut", 0.1, 1.02); // 1.25..1.35
  const cut = ledger.stop(1.2);
  assert.equal(cut.length, 1, "only the item with audio still to play");
  assert.equal(cut[0].itemId, "item_cut");
  assert.ok(Math.abs(cut[0].playedMs - 150) < 1e-6);
  assert.ok(Math.abs(cut[0].receivedMs - 300) < 1e-6);
  assert.ok(!ledger.isPlaying(1.2));
  assert.equal(ledger.receivedMs("item_cut"), 0, "forgotten");
  assert.equal(ledger.schedule("item_next", 0.1, 1.3), 1.35);
  assert.deepEqual(ledger.stop(10), [], "nothing left to play");
});

Deno.test("finished chunks are folded into totals, keeping memory bounded over long items", () => {
  const ledger = new PlaybackLedger(0.05);
  for (let i = 0; i < 10_000; i++) ledger.schedule("item_long", 0.1, i * 0.1);
  assert.equal(ledger.receivedMs("item_long"), 1_000_000, "no drift from adding 0.1 s ten thousand times");
  assert.equal(ledger.playedMs("item_long", 2000), 1_000_000);
  const internal = (ledger as unknown as { items: Map<string, { segments: unknown[] }> }).items;
  assert.ok(internal.get("item_long")!.segments.length <= 2);
  for (let i = 0; i < 40; i++) ledger.schedule(`item_${i}`, 0.1, 3000 + i);
  assert.ok(internal.size <= 16);
});

Deno.test("the truncation point is what was heard, clamped to what was received, in whole ms", () => {
  assert.equal(truncationPoint({ itemId: "i", playedMs: 1234.9, receivedMs: 4400 }), 1234);
  // The clock can run past the last chunk (or the output timestamp can lead it): never ask for more.
  assert.equal(truncationPoint({ itemId: "i", playedMs: 4412.5, receivedMs: 4400 }), 4400);
  assert.equal(truncationPoint({ itemId: "i", playedMs: 500, receivedMs: 299.9 }), 299);
  assert.equal(truncationPoint({ itemId: "i", playedMs: -3, receivedMs: 100 }), 0);
});
