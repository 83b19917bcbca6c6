/** `express`, `@sess/core`, `node:internal` ...: who owns the code a sample landed in. */
export function ownerOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node (internals)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const ours = /\/packages\/([^/]+)\//.exec(url);
  if (ours !== null) return `@sess/${ours[1]}`;
  return url.includes('/bench/') ? 'bench server' : url;
}
