// Sums the vitest JSON reports of every package into one line, the last line CI reads:
// "N passed, M failed[, K skipped]". Before it, the skipped tests, by file and by the suite they
// belong to (a skip's reason is in its title or its suite's, e.g. "ids and clear (optional
// methods)" or "[store has no touch(), which is optional]"). A package with tests but no report
// counts as a failure, since a crashed runner writes nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
/** file -> group (suite path below the top describe) -> titles */
const skips = new Map();

// Every folder with a test/ directory: packages/*, examples/*, and docs (the README snippets).
const folders = [];
for (const group of ['packages', 'examples']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir).sort()) folders.push(join(group, name));
}
folders.push('docs');

for (const folder of folders) {
  const pkgDir = join(root, folder);
  if (!existsSync(join(pkgDir, 'test'))) continue;
  // test-results.json, and the report of each further vitest run its test script names (the
  // core's walks run apart from its unit tests).
  const script = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).scripts?.test ?? '';
  const reports = ['test-results.json', ...[...script.matchAll(/--outputFile\.json=([^\s"';&|]+)/g)].map((match) => match[1])];
  for (const report of reports) {
    if (existsSync(join(pkgDir, report))) count(JSON.parse(readFileSync(join(pkgDir, report), 'utf8')));
    else missing.push(join(folder, report));
  }
}

function count(result) {
  passed += result.numPassedTests;
  skipped += result.numPendingTests + result.numTodoTests;
  // A suite that failed to load (syntax error, failed import) has no tests to count.
  const failures =
    result.numFailedTests + result.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0).length;
  // A run that failed some other way (a worker that died mid-test, an error outside any test)
  // still counts as a failure.
  failed += failures > 0 || result.success !== false ? failures : 1;
  for (const file of result.testResults) {
    for (const test of file.assertionResults) {
      if (test.status === 'passed' || test.status === 'failed') continue;
      const where = relative(root, file.name);
      const byGroup = skips.get(where) ?? new Map();
      skips.set(where, byGroup);
      // The top describe names the configuration (which store, which client); what was skipped
      // and why is in the suites below it and the title.
      const group = test.ancestorTitles.slice(1).join(' > ') || test.ancestorTitles[0] || '(top level)';
      const titles = byGroup.get(group) ?? [];
      byGroup.set(group, titles);
      titles.push(test.status === 'todo' ? `todo: ${test.title}` : test.title);
    }
  }
}

// Script checks run by verify.sh (services, format, types, docs, soak, bench), one count each.
const flag = (name) => Number(process.argv[process.argv.indexOf(name) + 1] ?? 0) || 0;
if (process.argv.includes('--checks-passed')) passed += flag('--checks-passed');
if (process.argv.includes('--checks-failed')) failed += flag('--checks-failed');

if (skips.size > 0) {
  const lines = [`skipped tests (${skipped}), by file and suite:`];
  for (const [file, byGroup] of [...skips].sort(([a], [b]) => a.localeCompare(b))) {
    const count = [...byGroup.values()].reduce((sum, titles) => sum + titles.length, 0);
    lines.push(`  ${file} (${count})`);
    for (const [group, titles] of byGroup) {
      const distinct = [...new Set(titles)];
      // One test is named; several are counted with an example, so the summary stays short.
      if (distinct.length === 1) {
        for (const title of distinct) {
          const times = titles.filter((t) => t === title).length;
          lines.push(`    ${times > 1 ? `${times} x ` : ''}${group} > ${title}`);
        }
      } else {
        lines.push(`    ${titles.length} x ${group} (${distinct.length} tests, e.g. "${distinct[0]}")`);
      }
    }
  }
  console.log(lines.join('\n'));
}
if (missing.length > 0) console.log(`no test report from: ${missing.join(', ')}`);
failed += missing.length;
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
