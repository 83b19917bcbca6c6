/**
 * The config is checked at its first use, whichever function that is, with a SessConfigError that
 * says what to write; a config object is read once, however many requests pass it.
 */
import { describe, expect, it } from 'vitest';
import { fakeClock, inspectableStore } from '@sess/adapter-test';
import { SessConfigError } from '@sess/core';
import { flavours, PASSWORD, serving } from './apps.js';

const serve = serving();

describe.each(flavours)('$name', ({ api, name }) => {
  const entry = name === 'h3 v2' ? '@sess/h3-session' : '@sess/h3-session/v1';
  const refusal = (config: unknown) => api.useSession({} as never, config as never);

  it('refuses what is not a config, and unknown options, naming the closest known one', async () => {
    await expect(refusal(undefined)).rejects.toThrow(SessConfigError);
    await expect(refusal('secret')).rejects.toThrow(/needs an options object/);
    await expect(refusal({ password: PASSWORD, maxage: 60 })).rejects.toThrow(
      `the session config of ${entry}: unknown option "maxage": did you mean "maxAge"?`,
    );
    await expect(refusal({ secret: PASSWORD })).rejects.toThrow(/unknown option "secret": h3 calls it "password"/);
    await expect(refusal({ password: PASSWORD, maxAgeMs: 1000 })).rejects.toThrow(/"maxAge" is in seconds/);
  });

  it('refuses a missing or short password, as h3 does, saying how to make one', async () => {
    for (const password of [undefined, 'short', 42]) {
      const error = await refusal({ password }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(SessConfigError);
      expect(error).toMatchObject({
        code: 'secret_too_short',
        message: expect.stringMatching(/password must be a string of at least 32 characters.*randomBytes\(32\)/),
      });
    }
    // clearSession takes a partial config, but finding the session in the store needs the password.
    await expect(api.clearSession({} as never, { name: 'h3' })).rejects.toThrow(/password must be/);
  });

  it('refuses lifetimes that are not seconds; a falsy maxAge means none, as in h3', async () => {
    await expect(refusal({ password: PASSWORD, maxAge: -1 })).rejects.toThrow(/maxAge must be a number of seconds, at least 1, got -1/);
    await expect(refusal({ password: PASSWORD, maxAge: '60' })).rejects.toThrow(/maxAge must be a number of seconds/);
    await expect(refusal({ password: PASSWORD, idleTimeout: 0.5 })).rejects.toThrow(
      /idleTimeout must be a number of seconds, at least 1, got 0.5/,
    );
    await expect(refusal({ password: PASSWORD, cookie: { maxAge: 0 } })).rejects.toThrow(/cookie\.maxAge must be a number of seconds/);
    const store = inspectableStore(fakeClock());
    const client = await serve(flavours[name === 'h3 v2' ? 0 : 1], async ({ event }) => ({
      id: (await api.useSession(event, { password: PASSWORD, store, maxAge: 0 })).id,
    }));
    expect((await client.request('/')).setCookies[0]).not.toMatch(/Max-Age|Expires/);
  });

  it('refuses cookie options h3 does not have, a fixed expiry, and attributes browsers would drop', async () => {
    await expect(refusal({ password: PASSWORD, cookie: 'yes' })).rejects.toThrow(/cookie must be an object/);
    await expect(refusal({ password: PASSWORD, cookie: { sameSit: 'lax' } })).rejects.toThrow(
      /unknown option "sameSit": did you mean "sameSite"\?/,
    );
    await expect(refusal({ password: PASSWORD, cookie: { secure: 'auto' } })).rejects.toThrow(/cookie\.secure must be one of true, false/);
    await expect(refusal({ password: PASSWORD, cookie: { expires: new Date() } })).rejects.toThrow(
      /cookie\.expires would end every session on one date/,
    );
    const error = await refusal({ password: PASSWORD, cookie: { sameSite: 'none', secure: false } }).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'cookie_invalid', message: expect.stringMatching(/SameSite=None needs cookie\.secure: true/) });
  });

  it('refuses a bad sessionHeader, generateId, seal, crypto or store', async () => {
    await expect(refusal({ password: PASSWORD, sessionHeader: 1 })).rejects.toThrow(/sessionHeader must be false or a header name/);
    await expect(refusal({ password: PASSWORD, sessionHeader: '' })).rejects.toThrow(/sessionHeader must be false or a header name/);
    // Not a header name: h3 v2's Headers would throw it on every request.
    await expect(refusal({ password: PASSWORD, sessionHeader: 'x session' })).rejects.toThrow(
      /sessionHeader must be false or a header name/,
    );
    await expect(refusal({ password: PASSWORD, generateId: 'uuid' })).rejects.toThrow(/generateId must be a function/);
    await expect(refusal({ password: PASSWORD, seal: 'fast' })).rejects.toThrow(/seal must be an object/);
    await expect(refusal({ password: PASSWORD, crypto: true })).rejects.toThrow(/crypto must be an object/);
    await expect(refusal({ password: PASSWORD, store: { get() {} } })).rejects.toThrow(/store is not a sess store/);
  });

  it('refuses a crypto without randomUUID() (on h3 v1, or the subtle methods h3 opens its seals with), and makes the ids with one that has them', async () => {
    const { subtle } = globalThis.crypto;
    const refused: [unknown, RegExp][] = [
      [{}, /crypto must have randomUUID\(\)/],
      [{ subtle }, /crypto must have randomUUID\(\)/],
      [{ randomUUID: 'uuid', subtle }, /crypto must have randomUUID\(\)/],
    ];
    // h3 v1 opens its seals with the crypto it is given; h3 v2 with globalThis.crypto, taking the given one for ids only.
    if (name !== 'h3 v2') {
      refused.push(
        [{ randomUUID: () => 'id' }, /crypto must have subtle/],
        [{ randomUUID: () => 'id', subtle: {} }, /crypto\.subtle must have importKey\(\), deriveBits\(\), decrypt\(\), sign\(\)/],
        [
          { randomUUID: () => 'id', subtle: { importKey() {}, deriveBits() {}, sign() {} } },
          /crypto\.subtle must have .*: missing decrypt$/,
        ],
      );
    }
    for (const [crypto, message] of refused) {
      const error = await refusal({ password: PASSWORD, crypto }).catch((thrown: unknown) => thrown);
      expect(error, String(message)).toBeInstanceOf(SessConfigError);
      expect(error, String(message)).toMatchObject({ message: expect.stringMatching(message) });
    }
    let made = 0;
    const randomUUID = () => `uuid-${++made}`;
    const crypto = (name === 'h3 v2' ? { randomUUID } : { subtle, randomUUID }) as unknown as typeof globalThis.crypto;
    const store = inspectableStore(fakeClock());
    const client = await serve(flavours[name === 'h3 v2' ? 0 : 1], async ({ event }) => ({
      id: (await api.useSession(event, { password: PASSWORD, store, crypto })).id,
    }));
    const reply = await client.request('/');
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ id: 'uuid-1' });
  });

  it('refuses BigInt values with a SessConfigError that shows them, never a TypeError', async () => {
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ maxAge: 3600n }, /maxAge must be a number of seconds, at least 1, got 3600n/],
      [{ idleTimeout: 60n }, /idleTimeout must be a number of seconds, at least 1, got 60n/],
      [{ cookie: { maxAge: 3600n } }, /cookie\.maxAge must be a number of seconds, at least 1, got 3600n/],
      [{ cookie: 1n }, /cookie must be an object, got 1n/],
      [{ seal: 1n }, /seal must be an object, got 1n/],
      [{ crypto: 1n }, /crypto must be an object, got 1n/],
      [{ sessionHeader: 1n }, /sessionHeader must be false or a header name, got 1n/],
      [{ maxAge: { seconds: 3600n } }, /maxAge must be a number of seconds, at least 1, got an object/],
      [{ name: 1n }, /name must be a string/],
      [{ cookie: { sameSite: 1n } }, /cookie\.sameSite must be one of/],
      [{ legacySealFallback: 1n }, /legacySealFallback must be one of true, false/],
    ];
    for (const [options, message] of refused) {
      const error = await refusal({ password: PASSWORD, ...options }).catch((thrown: unknown) => thrown);
      expect(error, String(message)).toBeInstanceOf(SessConfigError);
      expect(error, String(message)).toMatchObject({ message: expect.stringMatching(message) });
    }
    const error = await refusal({ password: 1n }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(SessConfigError);
  });

  it('reads a config object once, however many requests pass it', async () => {
    let reads = 0;
    const store = inspectableStore(fakeClock());
    const config = {
      store,
      get password() {
        reads += 1;
        return PASSWORD;
      },
    };
    const client = await serve(flavours[name === 'h3 v2' ? 0 : 1], async ({ event }) => {
      const session = await api.useSession(event, config);
      await session.update({ n: 1 });
      return { id: session.id };
    });
    await client.request('/');
    const afterFirst = reads;
    expect(afterFirst).toBeGreaterThan(0);
    for (let index = 0; index < 5; index++) expect((await client.request('/')).status).toBe(200);
    expect(reads).toBe(afterFirst);
  });
});
