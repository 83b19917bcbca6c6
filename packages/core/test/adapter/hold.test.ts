import { Agent, IncomingMessage, ServerResponse, createServer, get } from 'node:http';
import type { RequestListener } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createOutputHold, nodeHeaders } from '../../src/adapter/index.js';
import type { HoldHooks } from '../../src/adapter/index.js';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/**
 * The reply to GET `url` (through `agent`, which may keep its connection for the next request),
 * or 'aborted' when the connection ends before the body does.
 */
function fetchRaw(url: string, agent?: Agent): Promise<Reply | 'aborted'> {
  return new Promise((resolve) => {
    get(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => void (body += chunk));
      response.on('close', () =>
        resolve(response.complete ? { status: response.statusCode as number, headers: response.headers, body } : 'aborted'),
      );
    }).on('error', () => resolve('aborted'));
  });
}

/** A body of 256 KiB, in chunks of 16. */
function* chunks(): Generator<Buffer> {
  for (let i = 0; i < 16; i++) yield Buffer.alloc(16 * 1024, 'x');
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/** Hooks whose commit sets a session cookie after `wait`, recording what happened. */
function hooks(res: ServerResponse, log: string[], options: { wait?: Promise<void>; failWith?: Error } = {}): HoldHooks {
  return {
    async commit(status) {
      log.push(`commit ${status}`);
      await options.wait;
      if (options.failWith !== undefined) throw options.failWith;
      // As the adapters do: through `nodeHeaders`, whose writes go past the seal on held output.
      const headers = nodeHeaders(res);
      headers.append('Set-Cookie', 'sid=s');
      headers.set('Vary', 'Cookie');
    },
    fail(error) {
      log.push(`fail ${(error as Error).message}`);
      if (res.headersSent) return;
      res.statusCode = 503;
      res.end('failed');
    },
    onHold: () => void log.push('held'),
  };
}

describe('the output hold', () => {
  it('holds the first output until the commit is done, then replays every call in order, each callback once', async () => {
    const output = createOutputHold();
    const log: string[] = [];
    let release!: () => void;
    const wait = new Promise<void>((resolve) => (release = resolve));
    const url = await serve((_req, res) => {
      output.hold(res, hooks(res, log, { wait }));
      expect(res.write('a', () => void log.push('cb a'))).toBe(true);
      res.write(Buffer.from('b'), 'utf8');
      expect(res.end('c', () => void log.push('cb end'))).toBe(res);
      setTimeout(release, 10);
    });
    const reply = await fetchRaw(url);
    expect(reply).toMatchObject({ status: 200, body: 'abc', headers: { 'set-cookie': ['sid=s'], vary: 'Cookie' } });
    await tick();
    expect(log).toEqual(['commit 200', 'held', 'cb a', 'cb end']);
  });

  it("writeHead's headers are set at once, joining the session's Set-Cookie; its status is the commit's", async () => {
    const output = createOutputHold();
    const log: string[] = [];
    const url = await serve((req, res) => {
      output.hold(res, hooks(res, log));
      if (req.url === '/array') res.writeHead(201, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', '', 'skipped']).end('array');
      else res.writeHead(202, 'Fine', { 'Set-Cookie': 'a=1', 'X-Two': ['1', '2'], '': 'skipped' }).end('object');
    });
    expect(await fetchRaw(url)).toMatchObject({
      status: 202,
      body: 'object',
      headers: { 'set-cookie': ['a=1', 'sid=s'], 'x-two': '1, 2' },
    });
    expect(await fetchRaw(`${url}/array`)).toMatchObject({ status: 201, headers: { 'set-cookie': ['a=1', 'b=2', 'sid=s'] } });
    expect(log).toEqual(['commit 202', 'held', 'commit 201', 'held']);
  });

  it('held output makes the headers final, as if they had left: a second answer throws before it can change the first', async () => {
    const output = createOutputHold();
    const log: string[] = [];
    let release!: () => void;
    const wait = new Promise<void>((resolve) => (release = resolve));
    const seen: unknown[] = [];
    const url = await serve((_req, res) => {
      output.hold(res, hooks(res, log, { wait }));
      res.setHeader('Content-Length', '5');
      res.end('first');
      seen.push(res.headersSent);
      for (const change of [
        () => res.setHeader('Content-Length', '6'),
        () => res.appendHeader('X-Late', '1'),
        () => res.removeHeader('Content-Length'),
        () => res.setHeaders(new Map([['x-late', '1']])),
        () => res.writeHead(500),
      ]) {
        try {
          change();
          seen.push('changed');
        } catch (error) {
          seen.push((error as { code: string }).code);
        }
      }
      res.statusCode = 500;
      res.flushHeaders();
      setTimeout(release, 10);
    });
    const reply = await fetchRaw(url);
    expect(seen).toEqual([true, ...Array(5).fill('ERR_HTTP_HEADERS_SENT')]);
    expect(reply).toMatchObject({ status: 200, body: 'first', headers: { 'content-length': '5', 'set-cookie': ['sid=s'] } });
    expect((reply as Reply).headers['x-late']).toBeUndefined();
  });

  it('a wrapper put on after the hold that writes the head before each chunk, as compression does, streams through', async () => {
    const output = createOutputHold();
    let release!: () => void;
    const wait = new Promise<void>((resolve) => (release = resolve));
    type Internal = ServerResponse & { _header: string | null; _implicitHeader(): void };
    const url = await serve((_req, res) => {
      output.hold(res, hooks(res, [], { wait }));
      for (const name of ['write', 'end'] as const) {
        const own = res[name] as (...args: unknown[]) => unknown;
        (res as unknown as Record<string, unknown>)[name] = function (this: Internal, ...args: unknown[]) {
          if (!this._header) this._implicitHeader();
          return own.apply(this, args);
        };
      }
      res.write('a');
      res.write('b');
      res.end('c');
      setTimeout(release, 10);
    });
    expect(await fetchRaw(url)).toMatchObject({ status: 200, body: 'abc', headers: { 'set-cookie': ['sid=s'] } });
  });

  it('a wrapper put on after the hold stays on once the commit is done, and the gate it wraps passes output through', async () => {
    const output = createOutputHold();
    let release!: () => void;
    const wait = new Promise<void>((resolve) => (release = resolve));
    const url = await serve(async (_req, res) => {
      const held = output.hold(res, hooks(res, [], { wait }));
      const gate = res.write as (...args: unknown[]) => boolean;
      res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
        return gate.call(this, String(chunk).toUpperCase(), ...rest);
      } as ServerResponse['write'];
      res.write('a');
      setTimeout(release, 10);
      await held.settle(200);
      res.write('b');
      res.end('c');
    });
    expect(await fetchRaw(url)).toMatchObject({ status: 200, body: 'ABc', headers: { 'set-cookie': ['sid=s'] } });
  });

  it('a gate a caller took before the commit was done, without wrapping it, still writes after it', async () => {
    const output = createOutputHold();
    let release!: () => void;
    const wait = new Promise<void>((resolve) => (release = resolve));
    const url = await serve(async (_req, res) => {
      const held = output.hold(res, hooks(res, [], { wait }));
      const taken = res.write as (...args: unknown[]) => boolean;
      taken.call(res, 'a');
      setTimeout(release, 10);
      await held.settle(200);
      expect(res.write).toBe(ServerResponse.prototype.write);
      taken.call(res, 'b');
      res.end('c');
    });
    expect(await fetchRaw(url)).toMatchObject({ status: 200, body: 'abc', headers: { 'set-cookie': ['sid=s'] } });
  });

  it('a failed commit gives the framework back a response it can answer on', async () => {
    const output = createOutputHold();
    const url = await serve((_req, res) => {
      output.hold(res, {
        commit: async () => Promise.reject(new Error('store down')),
        fail: () => {
          res.statusCode = 503;
          res.setHeader('Retry-After', '1');
          res.end(`headersSent ${res.headersSent}`);
        },
      });
      res.end('never');
    });
    expect(await fetchRaw(url)).toMatchObject({ status: 503, body: 'headersSent false', headers: { 'retry-after': '1' } });
  });

  it('output Node refuses throws where it is called, as without the hold', async () => {
    const output = createOutputHold();
    const thrown: string[] = [];
    const url = await serve((req, res) => {
      output.hold(res, hooks(res, []));
      const attempts: Record<string, () => unknown> = {
        '/status': () => res.writeHead(1000),
        '/text-status': () => res.writeHead('abc' as never),
        '/reason': () => res.writeHead(200, 'O\nK'),
        '/message': () => {
          res.statusMessage = 'O\nK';
          return res.writeHead(200);
        },
        '/odd': () => res.writeHead(200, ['X-Lonely']),
        '/header': () => res.writeHead(200, { 'X-Bad': 'naïve…✓' }),
        '/chunk': () => res.end(42 as never),
        '/end-status': () => {
          res.statusCode = 1000;
          return res.end('x');
        },
        '/strict': () => {
          res.strictContentLength = true;
          res.setHeader('Content-Length', '1');
          return res.end('too long');
        },
      };
      try {
        attempts[req.url as string]?.();
      } catch (error) {
        thrown.push((error as { code: string }).code);
        res.statusCode = 500;
        res.statusMessage = 'Internal Server Error';
        res.strictContentLength = false;
        res.removeHeader('Content-Length');
        res.end('refused');
      }
    });
    for (const path of ['/status', '/text-status', '/reason', '/message', '/odd', '/header', '/chunk', '/end-status', '/strict']) {
      expect(await fetchRaw(url + path)).toMatchObject({ status: 500, body: 'refused' });
    }
    expect(thrown).toEqual([
      'ERR_HTTP_INVALID_STATUS_CODE',
      'ERR_HTTP_INVALID_STATUS_CODE',
      'ERR_INVALID_CHAR',
      'ERR_INVALID_CHAR',
      'ERR_INVALID_ARG_VALUE',
      'ERR_INVALID_CHAR',
      'ERR_INVALID_ARG_TYPE',
      'ERR_HTTP_INVALID_STATUS_CODE',
      'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
    ]);
  });

  it('a failed commit drops the held output for the error answer, and output after it goes nowhere, as on a destroyed response', async () => {
    const output = createOutputHold();
    const log: string[] = [];
    let late!: () => void;
    const after = new Promise<void>((resolve) => (late = resolve));
    const url = await serve((_req, res) => {
      output.hold(res, hooks(res, log, { failWith: new Error('store down') }));
      res.writeHead(200);
      res.write('partial');
      res.once('finish', () => {
        const code = (error?: Error | null) => void log.push(`late ${(error as { code?: string } | null | undefined)?.code}`);
        log.push(`write ${res.write('late', code)}`);
        res.end('late', (error?: Error | null) => {
          code(error);
          late();
        });
      });
    });
    expect(await fetchRaw(url)).toMatchObject({ status: 503, body: 'failed' });
    await after;
    expect(log).toEqual([
      'commit 200',
      'held',
      'fail store down',
      'write false',
      'late ERR_STREAM_WRITE_AFTER_END',
      'late ERR_STREAM_WRITE_AFTER_END',
    ]);
  });

  it('a failed commit calls back the held output it drops, with the error a closed response gives, so a handler awaiting it goes on', async () => {
    const output = createOutputHold();
    const log: string[] = [];
    let resumed!: () => void;
    const handlerDone = new Promise<void>((resolve) => (resumed = resolve));
    const url = await serve(async (_req, res) => {
      output.hold(res, hooks(res, log, { failWith: new Error('store down') }));
      const code = (error?: Error | null) => (error as { code?: string } | null | undefined)?.code;
      res.write('partial', (error) => void log.push(`write ${code(error)}`));
      await new Promise<void>((resolve) =>
        res.end('done', (error?: Error | null) => {
          log.push(`end ${code(error)}`);
          resolve();
        }),
      );
      resumed();
    });
    expect(await fetchRaw(url)).toMatchObject({ status: 503, body: 'failed' });
    await handlerDone;
    expect(log).toEqual(['commit 200', 'held', 'fail store down', 'write ERR_STREAM_WRITE_AFTER_END', 'end ERR_STREAM_WRITE_AFTER_END']);
  });

  it('a failed commit closes the connection with the error answer, so a handler that destroys the socket on its cut stream resets no next request on it', async () => {
    const output = createOutputHold();
    const url = await serve((req, res) => {
      const log: string[] = [];
      const failing = hooks(res, log, { failWith: new Error('store down') });
      // The stream is cut by the error answer; an app that takes that for a client gone, as
      // Express's sendFile does, ends the socket a few turns after the answer left.
      const cut = (error?: Error | null) => void (error && req.socket.destroy());
      if (req.url === '/output') {
        output.hold(res, failing);
        pipeline(Readable.from(chunks()), res, cut);
        return;
      }
      // The framework commits (Koa after its middleware ran) while the app's stream is held.
      const deferred = output.defer(res, failing);
      deferred.gate();
      pipeline(Readable.from(chunks()), res, cut);
      deferred.settle(200).catch((error: Error) => failing.fail(error));
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (const path of ['/output', '/settle']) {
        const answers = new Set<string>();
        for (let i = 0; i < 40; i++) {
          const reply = await fetchRaw(`${url}${path}`, agent);
          answers.add(reply === 'aborted' ? reply : `${reply.status} ${reply.body} ${reply.headers.connection}`);
        }
        expect([path, [...answers]]).toEqual([path, ['503 failed close']]);
      }
    } finally {
      agent.destroy();
    }
  });

  it('held writes heed the high-water mark: past it write returns false, and drain follows the replay', async () => {
    const output = createOutputHold();
    const log: string[] = [];
    let release!: () => void;
    const wait = new Promise<void>((resolve) => (release = resolve));
    const url = await serve((_req, res) => {
      // A wrapper (put on before the hold, so it sits inside) that takes every write into a buffer
      // of its own and sends it at the end: the replay fills nothing of Node's, so only the hold
      // owes the drain its refused writes promised.
      const buffered: string[] = [];
      const end = res.end;
      Object.assign(res, {
        write: (chunk: string) => buffered.push(chunk) > 0,
        end: () => end.call(res, buffered.join(''), 'utf8', undefined),
      });
      output.hold(res, hooks(res, log, { wait }));
      const chunk = 'x'.repeat(res.writableHighWaterMark / 4);
      const answers = [1, 2, 3, 4, 5].map(() => res.write(chunk));
      log.push(`writes ${answers.join(' ')}`);
      res.once('drain', () => {
        log.push('drain');
        res.end();
      });
      release();
    });
    const reply = await fetchRaw(url);
    expect(reply).toMatchObject({ status: 200, headers: { 'set-cookie': ['sid=s'] } });
    expect((reply as Reply).body).toHaveLength(5 * 4096);
    expect(log).toEqual(['commit 200', 'held', 'writes true true true false false', 'drain']);
  });

  it('a hook may throw output after the error answer from the call, to stop a writer that heeds nothing else', async () => {
    const output = createOutputHold();
    const thrown: string[] = [];
    let late!: () => void;
    const after = new Promise<void>((resolve) => (late = resolve));
    const url = await serve((_req, res) => {
      output.hold(res, {
        ...hooks(res, [], { failWith: new Error('store down') }),
        onDropped(error) {
          throw error;
        },
      });
      res.write('partial');
      res.once('finish', () => {
        try {
          res.write('late');
        } catch (error) {
          thrown.push((error as { code: string }).code);
        }
        late();
      });
    });
    expect(await fetchRaw(url)).toMatchObject({ status: 503, body: 'failed' });
    await after;
    expect(thrown).toEqual(['ERR_STREAM_WRITE_AFTER_END']);
  });

  it('held output refused only when replayed fails into the framework, and a half-sent response ends the connection', async () => {
    const output = createOutputHold();
    const log: string[] = [];
    const url = await serve((req, res) => {
      if (req.url === '/late') {
        output.hold(res, hooks(res, log));
        res.write('sent');
        res.write(42 as never);
        return;
      }
      // Another library's wrapper, that throws only when the held call finally runs.
      const end = res.end;
      res.end = function refusing(this: ServerResponse, ...args: unknown[]) {
        if (args[0] === 'refused') throw new Error('wrapper refused');
        return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['end'];
      output.hold(res, hooks(res, log));
      res.end('refused');
    });
    expect(await fetchRaw(`${url}/late`)).toBe('aborted');
    expect(log).toEqual(['commit 200', 'held', expect.stringMatching(/^fail The "chunk" argument/)]);
    expect(await fetchRaw(url)).toMatchObject({ status: 503, body: 'failed' });
    expect(log.at(-1)).toBe('fail wrapper refused');
  });

  it('a framework answer that throws ends the connection; a commit that throws at once fails like one that rejects', async () => {
    const output = createOutputHold();
    const url = await serve((req, res) => {
      output.hold(res, {
        commit:
          req.url === '/sync'
            ? () => {
                throw new Error('at once');
              }
            : async () => Promise.reject(new Error('later')),
        fail: (error) => {
          if ((error as Error).message === 'later') throw new Error('answer broke');
          res.statusCode = 500;
          res.end('answered');
        },
      });
      res.end('never');
    });
    expect(await fetchRaw(url)).toBe('aborted');
    expect(await fetchRaw(`${url}/sync`)).toMatchObject({ status: 500, body: 'answered' });
  });

  it('wraps a response that has its own output methods on the instance, outermost, and puts them back after', async () => {
    const output = createOutputHold();
    const seen: string[] = [];
    const url = await serve((_req, res) => {
      const end = res.end;
      res.end = function wrapped(this: ServerResponse, ...args: unknown[]) {
        seen.push(`wrapper saw ${res.getHeader('set-cookie')}`);
        return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['end'];
      const own = res.end;
      output.hold(res, hooks(res, []));
      expect(res.end).not.toBe(own);
      res.end('done');
      setTimeout(() => seen.push(String(res.end === own)), 20);
    });
    expect(await fetchRaw(url)).toMatchObject({ body: 'done' });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual(['wrapper saw sid=s', 'true']);
  });

  it('holds a response the gates do not cover on the instance, keeping its prototype (a prototype set per response slows Node)', async () => {
    const output = createOutputHold();
    const seen: unknown[] = [];
    const url = await serve((_req, res) => {
      output.hold(res, hooks(res, []));
      seen.push(Object.getPrototypeOf(res) === ServerResponse.prototype, output.gates.covers(res));
      res.end('done');
      setTimeout(() => seen.push(res.end === ServerResponse.prototype.end), 20);
    });
    expect(await fetchRaw(url)).toMatchObject({ body: 'done', headers: { 'set-cookie': ['sid=s'] } });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(seen).toEqual([true, false, true]);
  });

  it('gates put into a prototype cover every response below it; one without a hold passes straight through', async () => {
    const output = createOutputHold();
    const proto = Object.create(ServerResponse.prototype) as object;
    output.gates.insert(proto);
    const log: string[] = [];
    const url = await serve((req, res) => {
      Object.setPrototypeOf(res, proto);
      if (req.url === '/held') output.hold(res, hooks(res, log));
      res.end(String(res.headersSent));
    });
    const passed = await fetchRaw(url);
    expect([passed !== 'aborted' && passed.body, passed !== 'aborted' && passed.headers['set-cookie']]).toEqual(['false', undefined]);
    expect(await fetchRaw(`${url}/held`)).toMatchObject({ body: 'false', headers: { 'set-cookie': ['sid=s'] } });
    expect(log).toEqual(['commit 200', 'held']);
  });

  it('defer commits once: by settle, or by output once gated; settle rejects only for a commit it started', async () => {
    const output = createOutputHold();
    const outcomes: string[] = [];
    const url = await serve(async (req, res) => {
      const log: string[] = [];
      const failing = req.url?.startsWith('/fail') === true;
      const deferred = output.defer(res, hooks(res, log, failing ? { failWith: new Error('down') } : {}));
      if (req.url === '/settle' || req.url === '/fail-settle') {
        await deferred.settle(201).then(
          () => outcomes.push(`settled ${log.join(', ')}`),
          (error: Error) => outcomes.push(`rejected ${error.message}`),
        );
        deferred.gate();
        if (!res.writableEnded) res.end('after');
        return;
      }
      deferred.gate();
      deferred.gate();
      res.end('gated');
      await deferred.settle(299);
      outcomes.push(`output ${log.join(', ')}`);
    });
    expect(await fetchRaw(`${url}/settle`)).toMatchObject({ status: 200, body: 'after', headers: { 'set-cookie': ['sid=s'] } });
    expect(await fetchRaw(`${url}/fail-settle`)).toMatchObject({ status: 200, body: 'after' });
    expect(await fetchRaw(`${url}/gated`)).toMatchObject({ body: 'gated', headers: { 'set-cookie': ['sid=s'] } });
    expect(await fetchRaw(`${url}/fail-output`)).toMatchObject({ status: 503, body: 'failed' });
    await tick();
    expect(outcomes).toEqual(['settled commit 201', 'rejected down', 'output commit 200, held', 'output commit 200, held, fail down']);
  });

  it('a response with no request of its own skips the rehearsal and still holds', async () => {
    const output = createOutputHold();
    const log: string[] = [];
    const url = await serve((_req, res) => {
      Object.defineProperty(res, 'req', { value: undefined });
      output.hold(res, hooks(res, log));
      res.end(Buffer.from('stand-in'), () => void log.push('cb'));
    });
    expect(await fetchRaw(url)).toMatchObject({ body: 'stand-in', headers: { 'set-cookie': ['sid=s'] } });
    expect(IncomingMessage).toBeTypeOf('function');
  });
});
