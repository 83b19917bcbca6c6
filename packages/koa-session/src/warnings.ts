/**
 * Where koa-session's defaults are weaker than sess's, this package keeps koa-session's
 * behaviour (so an app moves without surprises) and says so once per process, naming the safer
 * option, as Node's own deprecation warnings do.
 */
const warned = new Set<string>();

export function warnOnce(code: string, message: string): void {
  if (warned.has(code)) return;
  warned.add(code);
  process.emitWarning(message, { type: 'SessWarning', code });
}
