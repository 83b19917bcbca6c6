/**
 * Every relative link in the root README, CONTRIBUTING.md, SECURITY.md, the packages' READMEs,
 * docs/*.md and docs/migration/*.md points at a file of the repository, and every `#anchor` at
 * a heading of the target (GitHub's anchors: lower case, punctuation dropped, spaces as hyphens). Links to other
 * sites are not followed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DOCS = dirname(dirname(fileURLToPath(import.meta.url)));
const ROOT = dirname(DOCS);

function markdownFiles(): string[] {
  const packages = readdirSync(join(ROOT, 'packages'))
    .map((name) => join('packages', name, 'README.md'))
    .filter((path) => existsSync(join(ROOT, path)));
  const docs = readdirSync(DOCS)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  const migration = readdirSync(join(DOCS, 'migration'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', 'migration', name));
  return ['README.md', 'CONTRIBUTING.md', 'SECURITY.md', ...packages.sort(), ...docs.sort(), ...migration.sort()].filter((path) =>
    existsSync(join(ROOT, path)),
  );
}

/** The markdown outside fenced code blocks, where links are links. */
function prose(text: string): string {
  return text.replace(/^([ \t]*)(`{3,})[^\n]*\n[\s\S]*?^\1\2[ \t]*$/gm, '');
}

function anchorsOf(path: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(readFileSync(path, 'utf8')).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = (heading[1] as string)
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

function brokenLinks(path: string): string[] {
  const text = prose(readFileSync(join(ROOT, path), 'utf8')).replace(/`[^`\n]*`/g, '');
  const broken: string[] = [];
  for (const match of text.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1] as string;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [file, anchor] = target.split('#') as [string, string | undefined];
    const resolved = file === '' ? join(ROOT, path) : join(ROOT, dirname(path), decodeURIComponent(file));
    if (!existsSync(resolved)) {
      broken.push(`${target}: no such file`);
      continue;
    }
    if (anchor !== undefined && anchor !== '' && statSync(resolved).isFile() && resolved.endsWith('.md')) {
      if (!anchorsOf(resolved).has(anchor)) broken.push(`${target}: no heading "#${anchor}" in ${relative(ROOT, resolved)}`);
    }
  }
  return broken;
}

describe('links in the documentation resolve', () => {
  for (const path of markdownFiles()) {
    it(path, () => {
      expect(brokenLinks(path)).toEqual([]);
    });
  }
});
