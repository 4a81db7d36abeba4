/** bench/p99.svg: fan-out p99 against room size, one line per target; hand-written SVG, log latency axis. */
import type { ResultRow } from "./results.ts";
import type { TargetName } from "./scenario.ts";

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { top: 48, right: 150, bottom: 56, left: 84 };
const COLORS: Record<TargetName, string> = {
  pyre: "#d9480f",
  "pyre-mux": "#f08c00",
  "pyre-longpoll": "#ae3ec9",
  "pyre-mixed": "#e8590c",
  "pyre-mux-mixed": "#fab005",
  "pyre-reading": "#c2255c",
  floor: "#1971c2",
  ws: "#2f9e44",
};
const LABELS: Record<TargetName, string> = {
  pyre: "pyre",
  "pyre-mux": "pyre, multiplexed",
  "pyre-longpoll": "pyre, LongPoll",
  "pyre-mixed": "pyre, V1 and V2 members",
  "pyre-mux-mixed": "pyre, multiplexed, V1 and V2",
  "pyre-reading": "pyre, members marking read",
  floor: "floor (bare DO)",
  ws: "ws (bare Node)",
};

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function formatMs(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toPrecision(3))} s`;
  return `${Number(ms.toPrecision(3))} ms`;
}

/** 1, 2, 5, 10, 20, 50, ... from the largest at or below `from` to the smallest at or above `to`. */
function oneTwoFive(from: number, to: number): number[] {
  const series: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(from)); decade <= to * 10; decade *= 10) {
    for (const factor of [1, 2, 5]) series.push(Number((decade * factor).toPrecision(3)));
  }
  const first = series.findLastIndex((ms) => ms <= from);
  const last = series.findIndex((ms) => ms >= to);
  return series.slice(Math.max(0, first), last < 0 ? series.length : last + 1);
}

/** Values of different targets can sit close together: each target labels its points on another side. */
function labelPlace(targetIndex: number, cx: number, cy: number): string {
  switch (targetIndex % 3) {
    case 0:
      return `x="${cx}" y="${cy - 9}" text-anchor="middle"`;
    case 1:
      return `x="${cx}" y="${cy + 17}" text-anchor="middle"`;
    default:
      return `x="${cx + 8}" y="${cy}" text-anchor="start" dominant-baseline="middle"`;
  }
}

export function p99Chart(rows: ResultRow[], title: string): string {
  const points = rows.filter((row) => row.load === "fanout" && row.p99_ms !== null && row.p99_ms > 0);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sizes = [...new Set(points.map((row) => row.members))].sort((a, b) => a - b);
  const latencies = points.map((row) => row.p99_ms ?? 1);
  // Bounds on the 1-2-5 series with some room around the points, so no label sits on an axis.
  const ticks = oneTwoFive(Math.min(...latencies, 10) / 1.4, Math.max(...latencies, 100) * 1.4);
  const low = ticks[0] ?? 1;
  const high = ticks[ticks.length - 1] ?? 1000;
  const maxSize = Math.max(...sizes, 1);
  const x = (members: number) => MARGIN.left + (members / maxSize) * plotW;
  const y = (ms: number) =>
    MARGIN.top + plotH - ((Math.log10(ms) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))) * plotH;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
  );
  // Latency axis: a labelled grid line at every tick, powers of ten darker.
  for (const ms of ticks) {
    const decade = Number.isInteger(Math.log10(ms));
    const at = y(ms).toFixed(1);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${at}" y2="${at}" stroke="${decade ? "#dee2e6" : "#f1f3f5"}"/>`,
      `<text x="${MARGIN.left - 8}" y="${at}" text-anchor="end" dominant-baseline="middle" fill="${decade ? "#212529" : "#868e96"}">${formatMs(ms)}</text>`,
    );
  }
  for (const members of [0, ...sizes]) {
    const at = x(members).toFixed(1);
    parts.push(
      `<line x1="${at}" x2="${at}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 5}" stroke="#495057"/>`,
      `<text x="${at}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${members}</text>`,
    );
  }
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#495057"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#495057"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">members in the room (N)</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">fan-out latency p99 (log scale)</text>`,
  );

  const targets = [...new Set(points.map((row) => row.target))];
  targets.forEach((target, index) => {
    const line = points.filter((row) => row.target === target).sort((a, b) => a.members - b.members);
    const color = COLORS[target];
    const path = line.map((row) => `${x(row.members).toFixed(1)},${y(row.p99_ms ?? 1).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const row of line) {
      const cx = x(row.members).toFixed(1);
      const cy = y(row.p99_ms ?? 1).toFixed(1);
      parts.push(
        `<circle cx="${cx}" cy="${cy}" r="4" fill="${color}"><title>${escapeXml(`${target}, ${row.members} members: p99 ${formatMs(row.p99_ms ?? 0)}`)}</title></circle>`,
        `<text ${labelPlace(index, Number(cx), Number(cy))} fill="${color}" font-size="11">${formatMs(row.p99_ms ?? 0)}</text>`,
      );
    }
    const legendY = MARGIN.top + 10 + index * 20;
    const legendX = MARGIN.left + plotW + 16;
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 20}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`,
      `<circle cx="${legendX + 10}" cy="${legendY}" r="4" fill="${color}"/>`,
      `<text x="${legendX + 26}" y="${legendY}" dominant-baseline="middle">${escapeXml(LABELS[target])}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
