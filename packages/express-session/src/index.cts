/**
 * The package's entry: express-session is CommonJS, so is its drop-in. `require('express-session')`
 * is the middleware itself, with `Store`, `MemoryStore`, `Cookie` and `Session` on it, and its
 * types are the namespace apps augment (`declare module 'express-session' { interface SessionData
 * { ... } }`). `import` gets the same module through Node's interop: an app and its stores
 * (connect-redis imports `Store`, connect-pg-simple requires it) share one `Store` class.
 */
import middleware = require('./middleware.js');

export = middleware.default;
