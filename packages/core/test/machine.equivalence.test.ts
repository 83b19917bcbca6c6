/**
 * The memoized runtime answers what xstate answers (see `equivalence.ts`): the alphabet's and the
 * inputs' keys, and the walk from half the inputs (`machine.equivalence-rest.test.ts` walks the
 * other half, on the other worker).
 */
import { describe, expect, it } from 'vitest';
import { lifecycleActions } from '../src/machine.js';
import { eventFromKey, eventKey, inputFromKey, inputKey, requestInputKey } from '../src/runtime.js';
import { agreesFrom, allEvents, allInputs, effectActions, halfOfInputs } from './equivalence.js';

describe('memoized runtime = xstate', () => {
  it('knows every effect action the machine names, and only those', () => {
    expect([...lifecycleActions].sort()).toEqual([...effectActions].sort());
  });

  it('gives every event of the alphabet its own key, which gives the event back', () => {
    const events = allEvents();
    const keys = new Map(events.map((event) => [eventKey(event), event]));
    expect(keys.size).toBe(events.length);
    for (const [key, event] of keys) expect(eventFromKey(key)).toEqual(event);
  });

  it("gives every start input its own key, which gives the input back; a request adds its own bits to its configuration's", () => {
    const distinct = new Map<number, string>();
    for (const input of allInputs()) {
      const key = inputKey(input);
      expect(inputFromKey(key)).toEqual(input);
      // Two inputs share a key only if they are the same input.
      expect(distinct.get(key) ?? JSON.stringify(input)).toBe(JSON.stringify(input));
      distinct.set(key, JSON.stringify(input));
      const { clientCookie, readOnly, browserSession, testCookieReceived } = input;
      const configured = inputKey({ ...input, clientCookie: 'absent', readOnly: false, browserSession: false, testCookieReceived: false });
      expect(configured | requestInputKey(clientCookie, readOnly, browserSession, testCookieReceived)).toBe(key);
    }
  });

  agreesFrom(halfOfInputs(0));
});
