/** The equivalence walk from the other half of the inputs (see `machine.equivalence.test.ts`). */
import { describe } from 'vitest';
import { agreesFrom, halfOfInputs } from './equivalence.js';

describe('memoized runtime = xstate', () => {
  agreesFrom(halfOfInputs(1));
});
