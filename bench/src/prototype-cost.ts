/**
 * `pnpm --filter sess-bench run prototype-cost [--rounds <n>]`: what it costs a bare Node server
 * to give each response a prototype of its own (`Object.setPrototypeOf(res, layer)`, one layer
 * shared by every response) against an own `end` method on each response, the two ways a hold
 * can put its gates on a single response. The same server answers "hello" in three modes, run
 * one after another in each round; it prints server CPU µs per request (the server's
 * `process.cpuUsage()` over 3 s of autocannon, 16 connections, after 1 s of warm-up).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

type Mode = 'plain' | 'prototype' | 'own';
const MODES: readonly Mode[] = ['plain', 'prototype', 'own'];
type End = (this: ServerResponse, ...args: unknown[]) => unknown;
const end = ServerResponse.prototype.end as End;

function serve(mode: Mode): void {
  const layer = Object.create(ServerResponse.prototype, {
    end: {
      value: function gated(this: ServerResponse, ...args: unknown[]) {
        return end.apply(this, args);
      },
      writable: true,
      configurable: true,
    },
  }) as object;
  const server = createServer((_req, res) => {
    if (mode === 'prototype') Object.setPrototypeOf(res, layer);
    if (mode === 'own')
      (res as unknown as { end: End }).end = function gated(this: ServerResponse, ...args: unknown[]) {
        return end.apply(this, args);
      };
    res.setHeader('content-type', 'text/plain');
    res.end('hello');
  });
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
  process.on('message', () => process.send?.(process.cpuUsage()));
}

const ask = <T>(child: ChildProcess, message?: string): Promise<T> =>
  new Promise((resolve) => {
    child.once('message', (answer) => resolve(answer as T));
    if (message !== undefined) child.send(message);
  });

async function measure(mode: Mode): Promise<number> {
  const child = fork(fileURLToPath(import.meta.url), ['--child', mode], { execArgv: ['--import', 'tsx'] });
  try {
    const url = `http://127.0.0.1:${await ask<number>(child)}`;
    await autocannon({ url, connections: 16, duration: 1 });
    const before = await ask<NodeJS.CpuUsage>(child, 'cpu');
    const result = await autocannon({ url, connections: 16, duration: 3 });
    const after = await ask<NodeJS.CpuUsage>(child, 'cpu');
    return (after.user + after.system - before.user - before.system) / result.requests.total;
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, child: { type: 'string' } } });
  if (values.child !== undefined) return serve(values.child as Mode);
  const rounds = Number(values.rounds ?? 3);
  for (let round = 1; round <= rounds; round++) {
    const figures: string[] = [];
    for (const mode of MODES) figures.push(`${mode} ${(await measure(mode)).toFixed(1)}`);
    console.log(`round ${round}: µs CPU/request: ${figures.join(', ')}`);
  }
}

await main();
