/**
 * Loads workspace packages that may not be built yet (`@sess/koa`, `@sess/h3`,
 * `@sess/store-redis`). The specifier is a variable so TypeScript does not need their `.d.ts`
 * files to exist; each caller states the small part of the API it uses. A missing build or a
 * missing export becomes `Unavailable`, which the runner reports instead of failing.
 */

/** A scenario that cannot run here, with the reason the report shows. */
export class Unavailable extends Error {
  override readonly name = 'Unavailable';
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
}

/** Imports `specifier` and checks that each of `exports` is a function. */
export async function importOptional<T>(specifier: string, exports: readonly string[]): Promise<T> {
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    if (isNotFound(error)) {
      throw new Unavailable(`${specifier} is not built (run \`pnpm --filter ${specifier} build\`): ${(error as Error).message}`);
    }
    throw error;
  }
  const missing = exports.filter((name) => typeof module[name] !== 'function');
  if (missing.length > 0) throw new Unavailable(`${specifier} has no export ${missing.join(', ')}`);
  return module as T;
}
