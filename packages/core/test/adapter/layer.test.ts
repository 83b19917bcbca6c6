import { describe, expect, it } from 'vitest';
import { accessorLayer, prototypeLayer } from '../../src/adapter/index.js';

describe('prototype layers', () => {
  it('go between an object and its prototype once, one copy per prototype, and cover everything below', () => {
    const base = { greet: () => 'base' };
    const layer = prototypeLayer((under) => ({
      greet: { value: () => `layer over ${(under as typeof base).greet()}`, configurable: true },
    }));
    const app = Object.create(base) as typeof base;
    const response = Object.create(app) as typeof base;
    expect(layer.covers(response)).toBe(false);
    layer.insert(app);
    layer.insert(app);
    layer.insert(response);
    expect(response.greet()).toBe('layer over base');
    expect(layer.covers(response)).toBe(true);
    expect(Object.getPrototypeOf(Object.getPrototypeOf(app))).toBe(base);
    const other = Object.create(base) as typeof base;
    layer.insert(other);
    expect(Object.getPrototypeOf(other)).toBe(Object.getPrototypeOf(app));
    const orphan = Object.create(null) as object;
    layer.insert(orphan);
    expect(layer.covers(orphan)).toBe(true);
    expect(base.greet()).toBe('base');
  });

  it('accessor layers read through getters; an assignment calls the setter, or makes an own property', () => {
    const seen: unknown[] = [];
    const layer = accessorLayer<{ state: number }>({
      doubled: { get: (target) => target.state * 2 },
      recorded: { get: () => seen.length, set: (_, value) => void seen.push(value) },
    });
    const proto = {};
    layer.insert(proto);
    const target = Object.assign(Object.create(proto) as { state: number; doubled: number; recorded: unknown }, { state: 2 });
    expect(target.doubled).toBe(4);
    target.recorded = 'x';
    expect([target.recorded, seen]).toEqual([1, ['x']]);
    target.doubled = 7;
    expect([target.doubled, Object.keys(target)]).toEqual([7, ['state', 'doubled']]);
  });
});
