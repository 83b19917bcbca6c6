import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { handoffHeaders, handoffNode, handoffResponse, redeemHandoff, socketSession, upgradeSession } from '../../src/adapter/index.js';
import { setup } from '../fixtures.js';

/** A token for a new session with `n: 1`, from a socket's first write. */
async function tokenOf(manager: ReturnType<typeof setup>['manager']): Promise<string> {
  const socket = socketSession(manager, { cookieHeader: undefined, secure: false }, (session) => session);
  const outcome = await socket.use((session) => session.set('n', 1));
  return outcome.handoff as string;
}

describe('hand-off', () => {
  it('redeems a token once, with an explicit status', async () => {
    const { manager } = setup();
    const token = await tokenOf(manager);
    const redeemed = await redeemHandoff(manager, token, undefined);
    expect(redeemed.status).toBe(204);
    expect(redeemed.effects).toEqual([
      expect.objectContaining({ type: 'cookie.set', name: 'sid' }),
      { type: 'header.cacheControl', value: 'private' },
    ]);
    expect(await redeemHandoff(manager, token, undefined)).toEqual({ status: 400, effects: [] });
    expect(await redeemHandoff(manager, 42, undefined)).toEqual({ status: 400, effects: [] });
  });

  it("redeems only for the app's own pages by Sec-Fetch-Site, leaving the token of a refused request as it was", async () => {
    const { manager } = setup();
    const token = await tokenOf(manager);
    // Node joins a repeated header into one value, or a client may send a list: neither is same-origin.
    for (const site of ['cross-site', 'same-site', 'none', 'same-origin, cross-site', ['same-origin', 'cross-site'], 'SAME-ORIGIN']) {
      expect(await redeemHandoff(manager, token, site)).toEqual({ status: 403, effects: [] });
    }
    for (const absent of [undefined, null, '']) {
      const other = await tokenOf(manager);
      expect((await redeemHandoff(manager, other, absent)).status).toBe(204);
    }
    expect((await redeemHandoff(manager, token, 'same-origin')).status).toBe(204);
  });

  it('answers on any headers: the cookie applied, the status returned', async () => {
    const { manager } = setup();
    const headers = new Headers();
    expect(await handoffHeaders(manager, await tokenOf(manager), 'same-origin', headers)).toBe(204);
    expect(headers.getSetCookie()).toEqual([expect.stringMatching(/^sid=/)]);
    const refused = new Headers();
    expect(await handoffHeaders(manager, await tokenOf(manager), 'cross-site', refused)).toBe(403);
    expect(await handoffHeaders(manager, 'not a token', undefined, refused)).toBe(400);
    expect([...refused]).toEqual([]);
  });

  it('answers as a Fetch Response and on a Node response', async () => {
    const { manager } = setup();
    const refused = await handoffResponse(manager, await tokenOf(manager), 'cross-site');
    expect([refused.status, refused.headers.getSetCookie()]).toEqual([403, []]);
    const fetched = await handoffResponse(manager, await tokenOf(manager), 'same-origin');
    expect([fetched.status, fetched.headers.getSetCookie()]).toEqual([204, [expect.stringMatching(/^sid=/)]]);
    const token = await tokenOf(manager);
    const server = createServer((req, res) => void handoffNode(manager, req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const crossSite = await fetch(`${url}/session/handoff?token=${token}`, {
        method: 'POST',
        headers: { 'sec-fetch-site': 'cross-site' },
      });
      expect([crossSite.status, crossSite.headers.getSetCookie()]).toEqual([403, []]);
      const first = await fetch(`${url}/session/handoff?token=${token}`, { method: 'POST' });
      expect([first.status, first.headers.getSetCookie()]).toEqual([204, [expect.stringMatching(/^sid=/)]]);
      expect((await fetch(`${url}/session/handoff?token=${token}`, { method: 'POST' })).status).toBe(400);
      expect((await fetch(`${url}/session/handoff`, { method: 'POST' })).status).toBe(400);
    } finally {
      server.close();
    }
  });

  it('a request target or upgrade URL that does not parse is a bad token or a plain request, never a throw', async () => {
    // Node's HTTP parser passes such absolute-form targets (and crossws builds its URL from the Host header).
    const { manager } = setup();
    const res = {
      statusCode: 0,
      ended: false,
      end() {
        this.ended = true;
      },
    };
    const req = { url: 'http://[/session/handoff?token=x', headers: {} };
    await handoffNode(manager, req as never, res as never);
    expect([res.statusCode, res.ended]).toEqual([400, true]);
    const upgrade = { url: 'http://a b/ws', headers: new Headers() };
    const socket = upgradeSession(manager, upgrade, false, (session) => session);
    expect((await socket.use((session) => session.keys())).result).toEqual([]);
  });

  it('a Fetch-style upgrade request is secure by its URL or a trusted proxy, and carries its cookie', async () => {
    const { manager, jar, request } = setup();
    await request((session) => session.set('n', 1));
    const upgrade = (url: string, headers: Record<string, string>) => ({
      url,
      headers: new Headers({ cookie: jar.header() ?? '', ...headers }),
    });
    const seen = await upgradeSession(manager, upgrade('ws://localhost/', {}), false, (session) => session).use((session) =>
      session.get('n'),
    );
    expect(seen.result).toBe(1);
    const secure = upgradeSession(manager, upgrade('wss://localhost/', { 'x-forwarded-proto': 'http' }), true, (session) => session);
    expect((await secure.use((session) => session.keys())).result).toEqual(['n']);
  });
});
