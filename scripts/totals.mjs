// Sums the vitest JSON reports of every package into one line, the last line CI reads:
// "N passed, M failed[, K skipped]". A package with tests but no report counts as a failure,
// since a crashed runner writes nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];

for (const group of ['packages', 'examples']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir)) {
    const pkgDir = join(dir, name);
    if (!existsSync(join(pkgDir, 'test'))) continue;
    const report = join(pkgDir, 'test-results.json');
    if (!existsSync(report)) {
      missing.push(`${group}/${name}`);
      continue;
    }
    const result = JSON.parse(readFileSync(report, 'utf8'));
    passed += result.numPassedTests;
    failed += result.numFailedTests;
    skipped += result.numPendingTests + result.numTodoTests;
    // A suite that failed to load (syntax error, failed import) has no tests to count.
    failed += result.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0).length;
  }
}

// Script checks run by verify.sh (soak, bench --quick), one count each.
const flag = (name) => Number(process.argv[process.argv.indexOf(name) + 1] ?? 0) || 0;
if (process.argv.includes('--checks-passed')) passed += flag('--checks-passed');
if (process.argv.includes('--checks-failed')) failed += flag('--checks-failed');

if (missing.length > 0) console.error(`no test report from: ${missing.join(', ')}`);
failed += missing.length;
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
