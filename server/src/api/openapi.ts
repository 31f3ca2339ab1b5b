// The HTTP API's contract: routes declare their params, bodies and answers with the
// protocol package's zod schemas (fastify-type-provider-zod validates requests and
// serializes answers with them), and @fastify/swagger generates the OpenAPI document from
// those same declarations: GET /api/openapi.json, browsable at /api/docs (@fastify/swagger-ui).
// A request that does not match its schema is answered 400 with the fields at fault.
import type { FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';

export const openApiPath = '/api/openapi.json';
export const docsPath = '/api/docs';

/** The fields at fault, as `path: message; …` (as describeIssues words zod's issues). */
function describeValidation(
  context: string | undefined,
  issues: ReadonlyArray<{ instancePath: string; message?: string | undefined }>,
): string {
  const where = context === 'body' ? '' : `${context ?? 'request'} `;
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
      return `${where}${path || '(data)'}: ${issue.message ?? 'invalid'}`;
    })
    .join('; ');
}

/**
 * Sets up schema-declared routes and the document. Register before the routes: the
 * document lists the routes registered after it.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((error, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const message = describeValidation(error.validationContext, error.validation);
      request.log.info({ url: request.url, reason: message }, 'request refused by its schema');
      return reply.code(400).send({ error: 'Bad Request', message });
    }
    // Everything else as Fastify answers it by default.
    throw error;
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Meet API',
        version,
        description:
          'The HTTP API of the meeting server. The browser authenticates with the identity cookie ' +
          '(`meet_identity`, from POST /api/identity or POST /api/room-token). Errors are ' +
          '`{ error, message }` with a 4xx status and the reason.',
      },
      components: {
        securitySchemes: {
          identityCookie: { type: 'apiKey', in: 'cookie', name: 'meet_identity' },
          apiToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'an API token (POST /api/tokens), limited to its scopes',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: docsPath });
  // The document itself at a stable address (swagger-ui serves it under its prefix too).
  app.get(openApiPath, { schema: { hide: true } }, async () => app.swagger());
}
