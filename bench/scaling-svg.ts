/** Draws the scaling figure of docs/performance.md: req/s and resident memory against sessions. */

/** One measured point. */
export interface ScalingPoint {
  configuration: string;
  sessions: number;
  reqPerSec: number;
  rssMiB: number;
  p99Ms: number;
}

const COLORS: Record<string, string> = { memory: "#2b6cb0", redis: "#c53030" };
const WIDTH = 360;
const HEIGHT = 220;
const PAD = { left: 56, right: 30, top: 28, bottom: 40 };

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The smallest of 1, 2, 2.5 or 5 × 10^n at least `raw`: axis ticks a reader can add up. */
function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].find((f) => f * magnitude >= raw) ?? 10) * magnitude;
}

/** One panel: `value` of each configuration against log10(sessions). */
function panel(points: readonly ScalingPoint[], value: (p: ScalingPoint) => number, title: string, offsetX: number): string {
  const xs = [...new Set(points.map((p) => p.sessions))].sort((a, b) => a - b);
  const step = niceStep(Math.max(1, ...points.map(value)) / 4);
  const max = step * 4 * 1.05;
  const x = (sessions: number) => {
    const i = xs.indexOf(sessions);
    return offsetX + PAD.left + (xs.length === 1 ? 0 : (i / (xs.length - 1)) * (WIDTH - PAD.left - PAD.right));
  };
  const y = (v: number) => PAD.top + (1 - v / max) * (HEIGHT - PAD.top - PAD.bottom);
  const parts = [`<text x="${offsetX + WIDTH / 2}" y="16" text-anchor="middle" font-weight="bold">${escape(title)}</text>`];
  parts.push(`<line x1="${offsetX + PAD.left}" y1="${y(0)}" x2="${offsetX + WIDTH - PAD.right}" y2="${y(0)}" stroke="#888"/>`);
  parts.push(`<line x1="${offsetX + PAD.left}" y1="${PAD.top}" x2="${offsetX + PAD.left}" y2="${y(0)}" stroke="#888"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = step * k;
    parts.push(`<text x="${offsetX + PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v).toLocaleString("en-US")}</text>`);
  }
  for (const sessions of xs) parts.push(`<text x="${x(sessions)}" y="${HEIGHT - PAD.bottom + 16}" text-anchor="middle">${sessions.toLocaleString("en-US")}</text>`);
  parts.push(`<text x="${offsetX + WIDTH / 2}" y="${HEIGHT - 8}" text-anchor="middle">sessions</text>`);
  for (const configuration of [...new Set(points.map((p) => p.configuration))]) {
    const line = points.filter((p) => p.configuration === configuration).sort((a, b) => a.sessions - b.sessions);
    const color = COLORS[configuration] ?? "#444";
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${line.map((p) => `${x(p.sessions)},${y(value(p))}`).join(" ")}"/>`);
    for (const p of line) parts.push(`<circle cx="${x(p.sessions)}" cy="${y(value(p))}" r="3" fill="${color}"/>`);
  }
  return parts.join("\n  ");
}

/** The figure: two panels (req/s, resident MiB), one line per configuration, and a caption. */
export function scalingSvg(points: readonly ScalingPoint[], caption: string): string {
  const configurations = [...new Set(points.map((p) => p.configuration))];
  const legend = configurations
    .map((c, i) => `<rect x="${PAD.left + i * 150}" y="${HEIGHT + 6}" width="12" height="12" fill="${COLORS[c] ?? "#444"}"/><text x="${PAD.left + i * 150 + 18}" y="${HEIGHT + 16}">bridge, ${c === "redis" ? "with Redis" : "in memory"}</text>`)
    .join("\n  ");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH * 2}" height="${HEIGHT + 44}" font-family="sans-serif" font-size="11">
  <rect width="100%" height="100%" fill="#fff"/>
  ${panel(points, (p) => p.reqPerSec, "POST /events per second", 0)}
  ${panel(points, (p) => p.rssMiB, "resident memory after the run (MiB)", WIDTH)}
  ${legend}
  <text x="${WIDTH * 2 - 8}" y="${HEIGHT + 36}" text-anchor="end" fill="#555">${escape(caption)}</text>
</svg>
`;
}
