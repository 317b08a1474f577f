/** A minimal Prometheus registry: counters, gauges and histograms rendered in the text format. */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}

interface Metric {
  render(): string;
}

/** A monotonically increasing count, optionally per label set. */
export class Counter implements Metric {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(value = 1, labels: Labels = {}): void {
    const key = labelText(labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + value);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelText(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [labels, value] of this.#values) lines.push(`${this.name}${labels} ${value}`);
    return lines.join("\n");
  }
}

/** A value read when scraped: a gauge, or a counter kept elsewhere (e.g. the writer's stats). */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number,
    readonly type: "gauge" | "counter" = "gauge",
  ) {}

  render(): string {
    const value = this.read();
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, `${this.name} ${Number.isFinite(value) ? value : 0}`].join("\n");
  }
}

/** Observations counted into fixed buckets (seconds, by convention). */
export class Histogram implements Metric {
  readonly #counts: number[];
  #sum = 0;
  #count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.#counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] as number)) this.#counts[i] = (this.#counts[i] as number) + 1;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((le, i) => lines.push(`${this.name}_bucket{le="${le}"} ${this.#counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`, `${this.name}_sum ${this.#sum}`, `${this.name}_count ${this.#count}`);
    return lines.join("\n");
  }
}

/** Holds the metrics and renders them for `GET /metrics`. */
export class MetricsRegistry {
  readonly #metrics: Metric[] = [];

  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }

  gauge(name: string, help: string, read: () => number): Gauge {
    return this.#add(new Gauge(name, help, read));
  }

  /** A counter whose value is read from elsewhere when scraped. */
  counterFrom(name: string, help: string, read: () => number): Gauge {
    return this.#add(new Gauge(name, help, read, "counter"));
  }

  /** Lines rendered by `render` when scraped (metrics whose set is known only then); "" for none. */
  custom(render: () => string): void {
    this.#add({ render });
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }

  render(): string {
    return `${this.#metrics.map((m) => m.render()).filter((text) => text !== "").join("\n")}\n`;
  }

  #add<T extends Metric>(metric: T): T {
    this.#metrics.push(metric);
    return metric;
  }
}
