/** The equivalence walk from the other half of the inputs (see `machine.equivalence.test.ts`). */
import { describe } from 'vitest';
import { agreesFrom, allInputs } from './equivalence.js';

describe('memoized runtime = xstate', () => {
  agreesFrom(allInputs().filter((_, index) => index % 2 === 1));
});
