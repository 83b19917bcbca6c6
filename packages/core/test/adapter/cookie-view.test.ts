import { describe, expect, it } from 'vitest';
import { SessUsageError } from '../../src/index.js';
import type { AttributeWording } from '../../src/adapter/index.js';
import { MAX_LIFETIME_MS, assertAttributeKept, fixedAttributes, setLifetimeMs, setLifetimeUntil } from '../../src/adapter/index.js';
import { setup } from '../fixtures.js';

const WORDING: AttributeWording = {
  refused: (attribute) => `cookie.${attribute} can't be set per request`,
  setInstead: (setting) => `session({ cookie: ${setting} })`,
  secureRequests: 'the framework calls secure',
};

describe('the cookie attributes an adapter reports and keeps', () => {
  it('reads as sent: defaults filled in, sameSite: true as strict, a __Host- name Secure whatever secure says', () => {
    expect(fixedAttributes().sent).toEqual({
      domain: undefined,
      path: '/',
      secure: 'auto',
      sameSite: 'lax',
      httpOnly: true,
      partitioned: undefined,
      priority: undefined,
    });
    expect(fixedAttributes({ sameSite: true, domain: 'example.com' }).sent).toMatchObject({ sameSite: 'strict', domain: 'example.com' });
    expect(fixedAttributes({ secure: false }, '__Host-sid').sent.secure).toBe(true);
  });

  it('accepts the value sent or the option as written, and refuses any other naming the option and the secure default', () => {
    const attributes = fixedAttributes({ sameSite: true });
    expect(() => assertAttributeKept(attributes, 'sameSite', 'strict', WORDING)).not.toThrow();
    expect(() => assertAttributeKept(attributes, 'sameSite', true, WORDING)).not.toThrow();
    expect(() => assertAttributeKept(attributes, 'domain', undefined, WORDING)).not.toThrow();
    const refusal = () => assertAttributeKept(attributes, 'domain', 'example.com', WORDING);
    expect(refusal).toThrow(SessUsageError);
    expect(refusal).toThrow(
      `cookie.domain can't be set per request (it is undefined): sess sets the cookie's attributes once, for every session. Set session({ cookie: { domain: "example.com" } }) instead`,
    );
    expect(() => assertAttributeKept(attributes, 'secure', true, WORDING)).toThrow(
      /Set session\(\{ cookie: \{ secure: true \} \}\) instead, or leave the default secure: 'auto', Secure on exactly the requests the framework calls secure$/,
    );
  });
});

describe('a lifetime set per request', () => {
  it('in ms: under a second ends the session now, past 400 days is 400 days', async () => {
    const { request, clock } = setup();
    const lifetimes = await request((core) => {
      core.set('n', 1);
      setLifetimeMs(core, 60_000);
      const minute = core.maxAgeMs;
      setLifetimeMs(core, 999);
      const ended = core.maxAgeMs;
      setLifetimeMs(core, MAX_LIFETIME_MS * 2);
      return [minute, ended, core.expiresAt - clock.now()];
    });
    expect(lifetimes.result).toEqual([60_000, 0, MAX_LIFETIME_MS]);
  });

  it('until a date: a past date ends the session now, a far one is 400 days', async () => {
    const { request, clock } = setup();
    const lifetimes = await request((core) => {
      core.set('n', 1);
      setLifetimeUntil(core, new Date(clock.now() + 3_600_000));
      const hour = core.expiresAt - clock.now();
      setLifetimeUntil(core, new Date(clock.now() - 1));
      const ended = core.maxAgeMs;
      setLifetimeUntil(core, new Date(clock.now() + MAX_LIFETIME_MS * 2));
      return [hour, ended, core.expiresAt - clock.now()];
    });
    expect(lifetimes.result).toEqual([3_600_000, 0, MAX_LIFETIME_MS]);
  });
});
