/**
 * Session data validation on load, through any Standard Schema validator (zod, valibot,
 * ArkType, ...: https://standardschema.dev). The types below are the spec's own, copied as it
 * recommends, so core depends on no validator.
 */

export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardSchemaV1.Result<Output> | Promise<StandardSchemaV1.Result<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export declare namespace StandardSchemaV1 {
  type Result<Output> =
    | { readonly value: Output; readonly issues?: undefined }
    | { readonly issues: ReadonlyArray<{ readonly message: string }> };
}

export const ASYNC_SCHEMA =
  'schema validates asynchronously; sessions need a synchronous schema (zod: no async refinements; valibot: not the *Async schemas)';

/**
 * Whether a schema answered with a promise, which sessions refuse. Its outcome is then nobody's,
 * so a rejection is handled here rather than left to end the process as an unhandled one.
 */
export function isAsyncResult(result: unknown): result is Promise<unknown> {
  if (!(result instanceof Promise)) return false;
  result.catch(() => undefined);
  return true;
}
