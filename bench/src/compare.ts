/**
 * `compare <before.json> <after.json>`: two runs' results (`results/latest.json` of each) side by
 * side, for an A/B of two commits on the same machine. Every server CPU ratio both runs can
 * compute (sess against bare and against its peer, getSession against sess+memory), per round,
 * as `median [lowest, highest]`; a ratio counts as worse only when the two runs' rounds do not
 * overlap at all.
 */
import { readFileSync } from 'node:fs';
import { cpuTimesLess, okCell, peerPairs, perRound } from './results.js';
import type { Cell, Spread } from './results.js';
import { FRAMEWORKS, GET_SESSION_LABEL, SCENARIOS, WORKLOADS } from './scenarios.js';
import type { Workload } from './scenarios.js';

const [beforePath, afterPath] = process.argv.slice(2);
if (beforePath === undefined || afterPath === undefined) {
  console.error('usage: compare <before.json> <after.json>');
  process.exit(2);
}
const cellsOf = (path: string) => (JSON.parse(readFileSync(path, 'utf8')) as { cells: Cell[] }).cells;
const before = cellsOf(beforePath);
const after = cellsOf(afterPath);

function cpuRatio(cells: readonly Cell[], a: string, b: string, workload: Workload): Spread | undefined {
  const first = okCell(cells, a, workload);
  const second = okCell(cells, b, workload);
  return first === undefined || second === undefined ? undefined : perRound(first, second, cpuTimesLess);
}

const pairs: [string, string][] = [];
for (const framework of FRAMEWORKS) {
  for (const scenario of SCENARIOS.filter((s) => s.framework === framework && s.impl === 'sess'))
    pairs.push([scenario.id, `${framework}/bare`]);
  pairs.push([`${framework}/${GET_SESSION_LABEL}`, `${framework}/sess+memory`], ...peerPairs(framework));
}

const text = (s: Spread) => `${s.median.toFixed(2)} [${s.min.toFixed(2)}, ${s.max.toFixed(2)}]`;
const rows: string[] = [];
let worse = 0;
for (const [a, b] of pairs) {
  for (const workload of WORKLOADS) {
    const was = cpuRatio(before, a, b, workload);
    const now = cpuRatio(after, a, b, workload);
    if (was === undefined || now === undefined) continue;
    const verdict = now.max < was.min ? '**worse: no round overlaps**' : now.min > was.max ? 'better: no round overlaps' : 'rounds overlap';
    if (now.max < was.min) worse += 1;
    rows.push(`| ${a} / ${b.slice(b.indexOf('/') + 1)} | ${workload} | ${text(was)} | ${text(now)} | ${verdict} |`);
  }
}
console.log('| comparison (CPU ratio) | workload | before | after | |');
console.log('| --- | --- | --- | --- | --- |');
console.log(rows.join('\n'));
console.log(`\n${rows.length} ratios; ${worse} worse beyond the rounds' spread`);
