/**
 * Properties put into an object's prototype chain rather than onto the object: an object's own
 * methods or accessors, assigned per request, change its hidden class, and V8 then slows every
 * property read the framework makes on it (measured on Express 5: ~12-15 us a response for three
 * output methods, ~20 us a request for one accessor). A layer is made once per prototype it sits
 * on and is shared by every object below it, so each object keeps one stable shape, and only the
 * chains the layer was put into see it: other apps in the process keep their own.
 */

/** A layer of properties, copied once over each prototype it is put on. */
export interface PrototypeLayer {
  /**
   * Puts the layer between `target` and its prototype, unless `target` inherits it already: an
   * app's own request or response prototype (everything it and its sub-apps serve sees the
   * layer), or a single response (only it does).
   */
  insert(target: object): void;
  /** Whether `target` inherits from this layer. */
  covers(target: object): boolean;
}

/** Stands for a `null` prototype as a WeakMap key. */
const NO_PROTOTYPE = Object.freeze({});

/**
 * A layer whose properties `describe(base)` makes for the prototype `base` it will sit on (a
 * method that calls on to `base`'s own, say).
 */
export function prototypeLayer(describe: (base: object | null) => PropertyDescriptorMap): PrototypeLayer {
  const copies = new WeakMap<object, object>();
  const layers = new WeakSet<object>();
  const covers = (target: object): boolean => {
    for (
      let proto = Object.getPrototypeOf(target) as object | null;
      proto !== null;
      proto = Object.getPrototypeOf(proto) as object | null
    ) {
      if (layers.has(proto)) return true;
    }
    return false;
  };
  return Object.freeze({
    covers,
    insert(target: object): void {
      if (covers(target)) return;
      const base = Object.getPrototypeOf(target) as object | null;
      let layer = copies.get(base ?? NO_PROTOTYPE);
      if (layer === undefined) {
        layer = Object.create(base, describe(base)) as object;
        copies.set(base ?? NO_PROTOTYPE, layer);
        layers.add(layer);
      }
      Object.setPrototypeOf(target, layer);
    },
  });
}

/** A property of an accessor layer, read off the object; without `set`, an assignment makes it the object's own data property. */
export interface LayerAccessor<Target> {
  get(target: Target): unknown;
  set?(target: Target, value: unknown): void;
}

/** A layer of accessors (`req.sessionID`, `ctx.session`), enumerable like the framework's own properties. */
export function accessorLayer<Target extends object>(accessors: { readonly [name: string]: LayerAccessor<Target> }): PrototypeLayer {
  const descriptors: PropertyDescriptorMap = {};
  for (const [name, { get, set }] of Object.entries(accessors)) {
    descriptors[name] = {
      get(this: Target) {
        return get(this);
      },
      set(this: Target, value: unknown) {
        if (set !== undefined) set(this, value);
        else Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
      },
      configurable: true,
      enumerable: true,
    };
  }
  return prototypeLayer(() => descriptors);
}
