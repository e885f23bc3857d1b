/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format for `GET /metrics`. Hot paths count into plain numbers on the session and are
 * collected at scrape time, so relaying a frame never touches a label map.
 *
 * @module
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return "{" +
    keys.map((k) =>
      `${k}="${String(labels[k]).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
    )
      .join(",") +
    "}";
}

/** A monotonically increasing count, optionally split by labels. */
export class Counter {
  readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  /** The current value of one series. */
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [key, value] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines.join("\n");
  }
}

/** A value read at scrape time from a callback. */
export class Gauge {
  protected readonly type: string = "gauge";
  constructor(readonly name: string, readonly help: string, private readonly read: () => number) {}
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} ${this.type}`,
      `${this.name} ${this.read()}`,
    ].join(
      "\n",
    );
  }
}

/** A counter kept elsewhere (a plain field bumped on a hot path) and read at scrape time. */
export class ObservedCounter extends Gauge {
  protected override readonly type: string = "counter";
}

/** A distribution over fixed buckets (seconds for durations). */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  /** Records one observation. */
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) this.counts[i]++;
  }
  /** Number of observations so far. */
  get observations(): number {
    return this.count;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    );
    return lines.join("\n");
  }
}

/** Anything the registry can render. */
export interface Metric {
  readonly name: string;
  render(): string;
}

/** Holds the relay's metrics and renders them for `/metrics`. */
export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  /** Registers a metric and returns it, for one-line declarations. */
  add<T extends Metric>(metric: T): T {
    this.metrics.push(metric);
    return metric;
  }
  /** The full exposition text, ending with a newline as Prometheus expects. */
  render(): string {
    return this.metrics.map((m) => m.render()).join("\n") + "\n";
  }
}
