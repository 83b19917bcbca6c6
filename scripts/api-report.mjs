/**
 * The public API, reviewed: for every entry point of every published package, API Extractor
 * reads the built `.d.ts` and writes its surface to `packages/<pkg>/api/<entry>.api.md`. The
 * reports are committed; `node scripts/api-report.mjs` (run by `pnpm lint` and `npm run verify`)
 * fails when a build's surface differs from its report, and `--update` rewrites the reports so
 * the change shows up in review. Run it after `pnpm build`.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = new URL('..', import.meta.url).pathname;
const update = process.argv.includes('--update');
const temp = mkdtempSync(join(tmpdir(), 'api-report-'));
const changed = [];
const failed = [];

/** The `.d.ts` of each entry point an ESM consumer resolves (its `import` condition, or the one map of an ESM-only package), by entry name (`index`, `adapter`). */
function entryPoints(pkg) {
  const entries = [];
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    const types = target?.import?.types ?? target?.types;
    if (typeof types !== 'string') continue;
    entries.push({ name: subpath === '.' ? 'index' : subpath.replace(/^\.\//, '').replaceAll('/', '-'), types });
  }
  return entries;
}

/**
 * API Extractor reports nothing for a CommonJS `export = name;` (the drop-ins' shape, as their
 * peers' typings have it): it reads a copy beside the original, with `export default` instead.
 */
function reportableEntry(typesPath) {
  const text = readFileSync(typesPath, 'utf8');
  const exportEquals = /^export = (\w+);$/m;
  if (!exportEquals.test(text)) return typesPath;
  const copy = join(dirname(typesPath), `api-report-${basename(typesPath)}`);
  writeFileSync(copy, text.replace(exportEquals, 'export default $1;'));
  return copy;
}

for (const folder of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', folder);
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) continue;
  const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
  if (pkg.private === true) continue;
  for (const entry of entryPoints(pkg)) {
    const typesPath = join(dir, entry.types);
    if (!existsSync(typesPath)) {
      failed.push(`${pkg.name}: ${entry.types} is missing (run pnpm build first)`);
      continue;
    }
    const mainEntryPointFilePath = reportableEntry(typesPath);
    const reportFileName = `${entry.name}.api.md`;
    mkdirSync(join(dir, 'api'), { recursive: true });
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: dir,
        mainEntryPointFilePath,
        bundledPackages: [],
        compiler: {
          overrideTsconfig: {
            compilerOptions: {
              target: 'es2022',
              module: 'nodenext',
              moduleResolution: 'nodenext',
              lib: ['es2022'],
              types: ['node'],
              skipLibCheck: true,
            },
          },
        },
        apiReport: { enabled: true, reportFolder: join(dir, 'api'), reportTempFolder: temp, reportFileName },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          // The report is what is reviewed; release tags and doc-comment style are not policed here.
          extractorMessageReporting: { default: { logLevel: 'none' } },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
      configObjectFullPath: join(dir, 'api-extractor.json'),
      packageJsonFullPath: manifest,
    });
    const result = Extractor.invoke(config, {
      localBuild: update,
      showVerboseMessages: false,
      messageCallback: (message) => void (message.handled = true),
    });
    const label = `${pkg.name} (${entry.name})`;
    if (!result.succeeded && !result.apiReportChanged) failed.push(`${label}: API Extractor failed (${result.errorCount} errors)`);
    if (result.apiReportChanged) changed.push(`${label}: packages/${folder}/api/${reportFileName}`);
    if (mainEntryPointFilePath !== typesPath) rmSync(mainEntryPointFilePath);
  }
}
rmSync(temp, { recursive: true, force: true });

if (failed.length > 0) console.error(failed.join('\n'));
if (changed.length > 0 && !update) {
  console.error(`The public API changed; review it and run node scripts/api-report.mjs --update:\n  ${changed.join('\n  ')}`);
}
if (changed.length > 0 && update) console.log(`API reports updated:\n  ${changed.map((line) => basename(line)).join('\n  ')}`);
process.exit(failed.length > 0 || (changed.length > 0 && !update) ? 1 : 0);
