import { Readable } from 'node:stream';
import Koa3 from 'koa';
import type { Context } from 'koa';
import Koa2 from 'koa2';
import { afterAnswer, BAD_HEADER_VALUE, behaviourOf, listen, runRobustnessProperties, tracksResponses } from '@sess/adapter-test';
import type { Behaviour, RobustnessOptions } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';

async function useSession(ctx: Context, use: Behaviour['session']): Promise<void> {
  const s = ctx.session as unknown as Record<string, unknown> & { regenerate(): Promise<void> };
  if (use === 'read') void s['views'];
  if (use === 'write') s['views'] = Number(s['views'] ?? 0) + 1;
  if (use === 'regenerate') {
    await s.regenerate();
    s['user'] = 'ada';
  }
  if (use === 'destroy') ctx.session = null;
  if (use === 'notJson') {
    s['views'] = Number(s['views'] ?? 0) + 1;
    s['big'] = { big: 1n };
  }
  if (use === 'lateWrite') {
    s['views'] = Number(s['views'] ?? 0) + 1;
    afterAnswer(() => {
      s['late'] = true;
    });
  }
  if (use === 'lateDestroy') {
    s['views'] = Number(s['views'] ?? 0) + 1;
    afterAnswer(() => {
      ctx.session = null;
    });
  }
}

function answer(ctx: Context, output: Behaviour['output']): void {
  switch (output) {
    case 'send':
      ctx.body = 'ok';
      return;
    case 'stream':
      ctx.body = Readable.from(['a', 'b', 'c']);
      return;
    case 'throw':
      throw new Error('boom');
    case 'status500':
      ctx.status = 500;
      ctx.body = 'boom';
      return;
    case 'badHeaderValue':
      ctx.set('Content-Disposition', BAD_HEADER_VALUE);
      ctx.body = 'x';
      return;
    case 'badStatus':
      ctx.status = 1000;
      ctx.body = 'x';
      return;
    case 'ownCookieAndVary':
      ctx.append('Set-Cookie', 'app=1; Path=/');
      ctx.vary('Accept');
      ctx.body = 'ok';
      return;
    case 'raw':
      ctx.respond = false;
      ctx.res.writeHead(200, { 'Content-Type': 'text/plain' });
      ctx.res.end('ok');
      return;
    case 'bodyHoldsSession':
      ctx.body = { session: ctx.session ?? {} };
      return;
  }
}

function start(Koa: typeof Koa3, options: RobustnessOptions | undefined) {
  const app = new Koa();
  // Koa logs every error it handles; the property provokes them on purpose.
  app.silent = true;
  if (options !== undefined) {
    // Koa has no save-every-request option (koa-session has none either).
    const { saveEveryRequest: _, maxAgeMs, cookie, ...rest } = options;
    app.use(session({ ...rest, ...cookie, ...(maxAgeMs === undefined ? {} : { maxAge: maxAgeMs }) } as SessionOptions));
  }
  app.use(async (ctx) => {
    if (ctx.path !== '/behave') return;
    const behaviour = behaviourOf(ctx.get('x-behaviour'));
    if (options !== undefined) await useSession(ctx, behaviour.session);
    answer(ctx, behaviour.output);
  });
  return listen(tracksResponses(app.callback()));
}

runRobustnessProperties({ name: 'Koa 3', start: async (options) => start(Koa3, options) });
runRobustnessProperties({ name: 'Koa 2', start: async (options) => start(Koa2 as unknown as typeof Koa3, options) });
