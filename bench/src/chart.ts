/**
 * A hand-written SVG bar chart for the root README: requests/s relative to the bare framework,
 * one panel per framework, one group per workload, sess next to the peer. A linear scale with
 * the value printed on each bar, so a peer at 0.002 of bare reads as 0.002, not as "no bar".
 */
import { FRAMEWORKS, WORKLOADS } from './scenarios.js';
import type { Framework } from './scenarios.js';
import { PEERS } from './results.js';
import type { Results } from './results.js';

interface Series {
  readonly label: string;
  readonly scenario: (framework: Framework) => string | undefined;
  readonly color: string;
}

const SERIES: readonly Series[] = [
  { label: 'sess, memory store', scenario: (f) => `${f}/sess+memory`, color: '#2563eb' },
  {
    label: 'peer (express-session MemoryStore, koa-session cookie, h3 useSession, @fastify/session MemoryStore; Hono has none)',
    scenario: (f) => PEERS[f].memory,
    color: '#f59e0b',
  },
  { label: 'sess, Redis', scenario: (f) => `${f}/sess+redis`, color: '#60a5fa' },
  {
    label: 'peer, Redis (connect-redis, koa-session + Redis store)',
    scenario: (f) => PEERS[f].redis,
    color: '#fcd34d',
  },
  {
    label: 'sess, PostgreSQL (Express only)',
    scenario: (f) => (PEERS[f].postgres === undefined ? undefined : `${f}/sess+postgres`),
    color: '#1e3a8a',
  },
  { label: 'peer, PostgreSQL (connect-pg-simple)', scenario: (f) => PEERS[f].postgres, color: '#b45309' },
];
const BAR = 30;
const GROUP_GAP = 26;
const PANEL_HEIGHT = 190;
const PLOT_HEIGHT = 130;
const LEFT = 60;
const LEGEND_TOP = 52;
const LEGEND_LINE = 14;
/** The first panel starts below the legend. */
const TOP = LEGEND_TOP + (SERIES.length - 1) * LEGEND_LINE + 6;

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chart(results: Results): string {
  const rps = (scenario: string | undefined, workload: string) =>
    results.cells.find((cell) => cell.scenario === scenario && cell.workload === workload && cell.status === 'ok')?.rps;
  const relative = (framework: Framework, series: Series, workload: string) => {
    const bare = rps(`${framework}/bare`, workload);
    const value = rps(series.scenario(framework), workload);
    return bare === undefined || value === undefined ? undefined : value / bare;
  };
  const all = FRAMEWORKS.flatMap((f) => WORKLOADS.flatMap((w) => SERIES.map((s) => relative(f, s, w) ?? 0)));
  const max = Math.max(1.2, ...all);
  const groupWidth = SERIES.length * BAR + GROUP_GAP;
  const width = Math.max(LEFT + WORKLOADS.length * groupWidth + 20, 720);
  const height = TOP + FRAMEWORKS.length * PANEL_HEIGHT + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">Requests/s relative to the bare framework (1.0 = no session middleware)</text>`,
    `<text x="${LEFT}" y="34" fill="#555">${escapeXml(`${results.meta.date.slice(0, 10)}, Node ${results.meta.node}, ${results.meta.cpu} (${results.meta.cores} cores), ${results.meta.loadGenerator}, ${results.meta.mode} run`)}</text>`,
  ];
  SERIES.forEach((series, index) => {
    const x = LEFT;
    const y = LEGEND_TOP + index * LEGEND_LINE;
    parts.push(
      `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${series.color}"/>`,
      `<text x="${x + 14}" y="${y}">${escapeXml(series.label)}</text>`,
    );
  });
  FRAMEWORKS.forEach((framework, panel) => {
    const base = TOP + panel * PANEL_HEIGHT + 20 + PLOT_HEIGHT;
    const yOf = (value: number) => base - (value / max) * PLOT_HEIGHT;
    parts.push(
      `<text x="10" y="${base - PLOT_HEIGHT - 6}" font-size="13" font-weight="bold">${framework}</text>`,
      `<line x1="${LEFT - 4}" x2="${width - 10}" y1="${base}" y2="${base}" stroke="#333"/>`,
      `<line x1="${LEFT - 4}" x2="${width - 10}" y1="${yOf(1)}" y2="${yOf(1)}" stroke="#999" stroke-dasharray="4 3"/>`,
      `<text x="${LEFT - 8}" y="${yOf(1) + 4}" text-anchor="end" fill="#555">1.0</text>`,
    );
    WORKLOADS.forEach((workload, group) => {
      const groupX = LEFT + group * groupWidth;
      parts.push(`<text x="${groupX + (SERIES.length * BAR) / 2}" y="${base + 14}" text-anchor="middle">${workload}</text>`);
      SERIES.forEach((series, index) => {
        const x = groupX + index * BAR;
        const value = relative(framework, series, workload);
        if (series.scenario(framework) === undefined) return;
        if (value === undefined) {
          parts.push(`<text x="${x + BAR / 2}" y="${base - 4}" text-anchor="middle" fill="#999" font-size="9">n/a</text>`);
          return;
        }
        const y = yOf(value);
        const label = value >= 0.1 ? value.toFixed(2) : value.toPrecision(1);
        parts.push(
          `<rect x="${x + 2}" y="${y.toFixed(1)}" width="${BAR - 4}" height="${(base - y).toFixed(1)}" fill="${series.color}"><title>${escapeXml(`${series.scenario(framework)} ${workload}: ${value.toFixed(3)} of bare`)}</title></rect>`,
          `<text x="${x + BAR / 2}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10">${label}</text>`,
        );
      });
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
