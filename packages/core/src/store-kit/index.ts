/**
 * @sess/core/store: for store authors, what every sess store would otherwise write again: names
 * and ids as a database keeps them, session data read and written without touching its
 * prototype and encoded as JSON (data JSON cannot hold failing as the app's bug, not the store's),
 * which TTLs give a record life, which `revokeUser` options a store accepts, and deadlines for
 * many calls on one timer. The contract a store implements (`Store`) and its record types are in
 * `@sess/core`; the conformance suite that checks a store is `@sess/store-test`.
 */
export { ownValue, setOwnValue } from './data.js';
export { deadlineSweep, type DeadlineSweep, type Watched } from './deadlines.js';
export { NAME_ESCAPE, escapeName, hashedId, unescapeName } from './names.js';
export { dataJson, dataNotJson } from './json.js';
export { hasLife, isEpochMs } from './ttl.js';
export { indexedUserId, revokeUserExcept } from './user-index.js';
