import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { z } from 'zod';
import { ErrorCode, ValidationError, formatIssues, type FieldIssue } from '../errors.js';

/** zod schemas for the parts of a request a route reads. */
export interface RouteSchemas {
  params?: z.ZodType;
  querystring?: z.ZodType;
  body?: z.ZodType;
  /** Builds the error for a body that fails its schema. @defaultValue a BG_ERR_BAD_REQUEST ValidationError */
  invalidBody?: (issues: FieldIssue[]) => ValidationError;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

/** What a handler receives: the parsed, typed request parts. */
export interface RouteInput<S extends RouteSchemas> {
  params: Out<S['params']>;
  query: Out<S['querystring']>;
  body: Out<S['body']>;
}

/**
 * Turns zod issues into field issues, one per failing field. zod reports unknown keys as one issue on the
 * parent; here each unknown key gets its own entry so the caller sees every field by name.
 */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...base, key].join('.'), message: 'unknown field' });
    } else {
      out.push({ path: base.join('.'), message: issue.message });
    }
  }
  return out;
}

function badRequest(part: string, issues: FieldIssue[]): ValidationError {
  return new ValidationError(ErrorCode.BadRequest, `invalid ${part}: ${formatIssues(issues)}`, issues);
}

/**
 * Registers a route whose params, query and body are parsed with zod before the handler runs (our
 * equivalent of a fastify type provider: the handler's input type comes from the schemas). A part that
 * fails answers 400 with every failing field.
 */
export function defineRoute<S extends RouteSchemas>(
  app: FastifyInstance,
  method: HTTPMethods,
  url: string,
  schemas: S,
  handler: (input: RouteInput<S>, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
): void {
  app.route({
    method,
    url,
    handler: async (request, reply) => {
      const input = {
        params: parsePart(schemas.params, request.params, 'path parameters', badRequest),
        query: parsePart(schemas.querystring, request.query, 'query string', badRequest),
        // No body at all reads as `{}`; a JSON `null` stays null and fails an object schema.
        body: parsePart(schemas.body, request.body === undefined ? {} : request.body, 'body', (_part, issues) => (schemas.invalidBody ?? ((i) => badRequest('body', i)))(issues)),
      } as RouteInput<S>;
      return handler(input, request, reply);
    },
  });
}

function parsePart(
  schema: z.ZodType | undefined,
  value: unknown,
  part: string,
  toError: (part: string, issues: FieldIssue[]) => ValidationError,
): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw toError(part, fieldIssues(result.error));
  return result.data;
}
