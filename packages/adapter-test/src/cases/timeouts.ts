/** Design §2.6: idle and absolute timeouts, from the stored record and the server's clock. */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import type { CaseEnv } from '../env.js';

export function timeoutCases(env: CaseEnv): void {
  it('an idle timeout ends a session left alone too long, and not one in use', async () => {
    const { client, clock, idInJar } = await env.start({ idleTimeoutMs: 60_000 });
    await client.request('/count');
    const id = idInJar();
    clock.advance(45_000);
    expect((await client.request('/count')).body).toBe('views 2');
    clock.advance(45_000);
    expect((await client.request('/count')).body).toBe('views 3');
    clock.advance(60_001);
    const late = await client.request('/count');
    expect(late.body).toBe('views 1');
    expect(idInJar()).not.toBe(id);
  });

  it('an absolute timeout ends a session however active, and caps its cookie', async () => {
    const { client, clock, idInJar } = await env.start({ absoluteTimeoutMs: 120_000, rolling: true });
    const first = await client.request('/count');
    expect(cookiesNamed(first, 'sid')).toEqual([expect.stringContaining('Max-Age=120;')]);
    const id = idInJar();
    clock.advance(60_000);
    expect((await client.request('/count')).body).toBe('views 2');
    clock.advance(60_001);
    const late = await client.request('/count');
    expect(late.body).toBe('views 1');
    expect(idInJar()).not.toBe(id);
  });
}
