import assert from "node:assert/strict";
import { Counter, Histogram, MetricsRegistry, ObservedCounter } from "./metrics.ts";

Deno.test("renders counters, observed counters and histograms in Prometheus text format", () => {
  const registry = new MetricsRegistry();
  const closed = registry.add(new Counter("relay_sessions_closed_total", "Sessions ended."));
  closed.inc({ code: "1000" });
  closed.inc({ code: "1000" });
  closed.inc({ code: "4001" }, 3);
  let frames = 41;
  registry.add(new ObservedCounter("relay_frames_total", "Frames.", () => ++frames));
  const dial = registry.add(new Histogram("relay_dial_seconds", "Dial time.", [0.01, 0.1]));
  dial.observe(0.005);
  dial.observe(0.05);
  dial.observe(3);
  const text = registry.render();
  assert.match(
    text,
    /# TYPE relay_sessions_closed_total counter\nrelay_sessions_closed_total\{code="1000"\} 2\nrelay_sessions_closed_total\{code="4001"\} 3/,
  );
  assert.match(text, /# TYPE relay_frames_total counter\nrelay_frames_total 42/);
  assert.match(
    text,
    /relay_dial_seconds_bucket\{le="0.01"\} 1\nrelay_dial_seconds_bucket\{le="0.1"\} 2\nrelay_dial_seconds_bucket\{le="\+Inf"\} 3/,
  );
  assert.match(text, /relay_dial_seconds_count 3\n$/);
  assert.equal(closed.get({ code: "4001" }), 3);
});

Deno.test("label values are escaped", () => {
  const counter = new Counter("c_total", "c");
  counter.inc({ reason: 'a "quoted"\nline' });
  assert.match(counter.render(), /c_total\{reason="a \\"quoted\\"\\nline"\} 1/);
});
