/**
 * Reading a posted form, the same way on every framework: Express and Koa hand over Node's
 * request stream, h3 a Web `ReadableStream`; both are async iterables of bytes.
 */

/** The sign-in form needs a few dozen bytes; the limit keeps a client from making the server buffer megabytes. */
export const FORM_LIMIT_BYTES = 1024;

/** A request the client got wrong: the pages answer it with `status` and `message`, never a 500. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a request header: `req.get`, `ctx.get` or `headers.get`, whichever the framework has. */
export type HeaderOf = (name: string) => string | null | undefined;

/**
 * The request's `application/x-www-form-urlencoded` body.
 *
 * @throws HttpError 415 for another content type, 413 past `FORM_LIMIT_BYTES`, 400 for bytes
 * that are not UTF-8 or escapes that don't decode.
 */
export async function readForm(body: AsyncIterable<Uint8Array> | null, header: HeaderOf): Promise<URLSearchParams> {
  const type = header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpError(415, 'Send the form as application/x-www-form-urlencoded.');
  const tooLarge = new HttpError(413, `The form is larger than ${FORM_LIMIT_BYTES} bytes.`);
  if (Number(header('content-length')) > FORM_LIMIT_BYTES) throw tooLarge;

  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body ?? []) {
    size += chunk.byteLength;
    // Past the limit, read on but keep nothing: leaving the loop early would destroy the
    // connection, and the client would never see the 413.
    if (size <= FORM_LIMIT_BYTES) chunks.push(chunk);
  }
  if (size > FORM_LIMIT_BYTES) throw tooLarge;
  return parseForm(Buffer.concat(chunks));
}

const malformed = () => new HttpError(400, 'The form is not valid: it must be UTF-8, with valid %-escapes.');

/** Strict where `URLSearchParams` is lenient: it turns broken escapes and bytes into U+FFFD, this refuses them. */
function parseForm(bytes: Buffer): URLSearchParams {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw malformed();
  }
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part.replaceAll('+', ' '));
    } catch {
      throw malformed();
    }
  };
  const form = new URLSearchParams();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    form.append(decode(equals === -1 ? pair : pair.slice(0, equals)), equals === -1 ? '' : decode(pair.slice(equals + 1)));
  }
  return form;
}
