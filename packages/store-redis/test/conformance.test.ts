import { afterAll } from 'vitest';
import { runStoreConformance } from '@sess/store-test';
import { redisStore } from '../src/index.js';
import { LIBRARIES, TOPOLOGIES, connect, describeOn, testPrefix, type Connected, type Library, type Topology } from './connect.js';

// One client per library and topology, made on first use and quit at the end: the suite calls
// `create` before every test, and a store is cheap where a cluster connection is not.
const clients = new Map<string, Promise<Connected>>();
afterAll(async () => {
  await Promise.all([...clients.values()].map(async (client) => (await client).quit()));
});

const client = async (library: Library, topology: Topology) => {
  const name = `${library}, ${topology}`;
  if (!clients.has(name)) clients.set(name, connect(library, topology));
  return (await clients.get(name)!).client;
};

for (const topology of TOPOLOGIES) {
  describeOn(topology, topology, () => {
    // Every client on every topology, plus hashed ids once per topology.
    for (const [library, hashIds] of [...LIBRARIES.map((library) => [library, false] as const), ['ioredis 6', true] as const]) {
      const name = `${library}, ${topology}${hashIds ? ', hashIds' : ''}`;
      const prefix = testPrefix(name.replace(/\W+/g, '-'));
      // Another random prefix on the same client: neither prefix starts with the other.
      const siblingPrefix = testPrefix(`${name.replace(/\W+/g, '-')}-sibling`);
      runStoreConformance({
        name,
        create: async () => redisStore({ client: await client(library, topology), prefix, hashIds }),
        createSibling: async () => redisStore({ client: await client(library, topology), prefix: siblingPrefix, hashIds }),
        // The suite's checks use their own ids; clearing the prefix keeps the database tidy.
        cleanup: (store) => store.clear?.(),
      });
    }
  });
}
