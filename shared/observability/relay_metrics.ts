/**
 * The relay's own metrics, declared once. Per-frame traffic is counted in plain fields of
 * {@link RelayMetrics.traffic} (no label lookups on the hot path) and exposed at scrape time.
 *
 * @module
 */
import { Counter, Gauge, Histogram, MetricsRegistry, ObservedCounter } from "./metrics.ts";

/** Frame and byte totals in both directions; text frames counted in UTF-16 code units (bytes for JSON). */
export interface TrafficTotals {
  framesToUpstream: number;
  bytesToUpstream: number;
  framesToClient: number;
  bytesToClient: number;
}

/** Every metric `/metrics` exposes. */
export interface RelayMetrics {
  registry: MetricsRegistry;
  traffic: TrafficTotals;
  sessionsClosed: Counter;
  authFailures: Counter;
  connectionsRefused: Counter;
  queueDrops: Counter;
  upstreamDialSeconds: Histogram;
  upstreamDialFailures: Counter;
}

/** Creates the registry; `activeSessions` is read at scrape time. */
export function createRelayMetrics(activeSessions: () => number): RelayMetrics {
  const registry = new MetricsRegistry();
  const traffic: TrafficTotals = {
    framesToUpstream: 0,
    bytesToUpstream: 0,
    framesToClient: 0,
    bytesToClient: 0,
  };
  registry.add(new Gauge("relay_sessions_active", "Relay sessions currently open.", activeSessions));
  const sessionsClosed = registry.add(
    new Counter("relay_sessions_closed_total", "Sessions ended, by the close code the client saw."),
  );
  const authFailures = registry.add(
    new Counter("relay_auth_failures_total", "Connections refused for auth, by reason."),
  );
  const connectionsRefused = registry.add(
    new Counter("relay_connections_refused_total", "Connections refused before auth (capacity, draining)."),
  );
  const queueDrops = registry.add(
    new Counter(
      "relay_queue_drops_total",
      "Frames the relay did not deliver, by reason (queue_full, slow_client).",
    ),
  );
  const upstreamDialSeconds = registry.add(
    new Histogram("relay_upstream_dial_seconds", "Time from dial to upstream socket open.", [
      0.005,
      0.01,
      0.025,
      0.05,
      0.1,
      0.25,
      0.5,
      1,
      2.5,
      5,
      10,
    ]),
  );
  const upstreamDialFailures = registry.add(
    new Counter("relay_upstream_dial_failures_total", "Upstream dials that failed."),
  );
  registry.add(
    new ObservedCounter(
      "relay_frames_to_upstream_total",
      "Frames relayed client to upstream.",
      () => traffic.framesToUpstream,
    ),
  );
  registry.add(
    new ObservedCounter(
      "relay_frames_to_client_total",
      "Frames relayed upstream to client.",
      () => traffic.framesToClient,
    ),
  );
  registry.add(
    new ObservedCounter(
      "relay_bytes_to_upstream_total",
      "Payload bytes relayed client to upstream.",
      () => traffic.bytesToUpstream,
    ),
  );
  registry.add(
    new ObservedCounter(
      "relay_bytes_to_client_total",
      "Payload bytes relayed upstream to client.",
      () => traffic.bytesToClient,
    ),
  );
  return {
    registry,
    traffic,
    sessionsClosed,
    authFailures,
    connectionsRefused,
    queueDrops,
    upstreamDialSeconds,
    upstreamDialFailures,
  };
}
