import { Readable } from 'node:stream';
import express5 from 'express';
import type { Request, RequestHandler, Response } from 'express';
import express4 from 'express4';
import { afterAnswer, BAD_HEADER_VALUE, behaviourOf, listen, runRobustnessProperties, tracksResponses } from '@sess/adapter-test';
import type { Behaviour, RobustnessOptions } from '@sess/adapter-test';
import { session } from '../src/index.js';

async function useSession(req: Request, use: Behaviour['session']): Promise<void> {
  const s = req.session as unknown as Record<string, unknown> & { regenerate(): Promise<void>; destroy(): Promise<void> };
  if (use === 'read') void s['views'];
  if (use === 'write') s['views'] = Number(s['views'] ?? 0) + 1;
  if (use === 'regenerate') {
    // An emptied session is a new object on req: the old one refuses changes.
    await s.regenerate();
    (req.session as unknown as Record<string, unknown>)['user'] = 'ada';
  }
  if (use === 'destroy') await s.destroy();
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
    afterAnswer(() => void s.destroy().catch(() => undefined));
  }
}

function answer(req: Request, res: Response, output: Behaviour['output']): void {
  switch (output) {
    case 'send':
    case 'raw':
      res.send('ok');
      return;
    case 'stream':
      Readable.from(['a', 'b', 'c']).pipe(res);
      return;
    case 'throw':
      throw new Error('boom');
    case 'status500':
      res.status(500).send('boom');
      return;
    case 'badHeaderValue':
      res.writeHead(200, { 'Content-Disposition': BAD_HEADER_VALUE });
      res.end('x');
      return;
    case 'badStatus':
      res.writeHead(1000);
      res.end('x');
      return;
    case 'ownCookieAndVary':
      res.writeHead(200, { 'Set-Cookie': 'app=1; Path=/', Vary: 'Accept' });
      res.end('ok');
      return;
    case 'bodyHoldsSession':
      res.json({ session: req.session ?? {} });
      return;
  }
}

function start(express: typeof express5, options: RobustnessOptions | undefined) {
  const app = express();
  if (options !== undefined) {
    const { saveEveryRequest, maxAgeMs, cookie, ...rest } = options;
    app.use(session({ ...rest, resave: saveEveryRequest, cookie: { ...cookie, maxAge: maxAgeMs } } as Parameters<typeof session>[0]));
  }
  const behave: RequestHandler = (req, res, next) => {
    const behaviour = behaviourOf(req.headers['x-behaviour']);
    (options === undefined ? Promise.resolve() : useSession(req, behaviour.session))
      .then(() => answer(req, res, behaviour.output))
      .catch(next);
  };
  app.get('/behave', behave);
  return listen(tracksResponses(app));
}

runRobustnessProperties({ name: 'Express 5', start: async (options) => start(express5, options) });
runRobustnessProperties({ name: 'Express 4', start: async (options) => start(express4 as unknown as typeof express5, options) });
