/** JSON errors at the HTTP edge: every 4xx names its reason; nothing internal leaks in a 5xx. */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from '../logger';

export function sendError(
  res: Response,
  status: number,
  error: string,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  res.status(status).json({ error, message, ...extra });
}

export const notFound: RequestHandler = (req, res) => {
  sendError(res, 404, 'not_found', `no route for ${req.method} ${req.path}`);
};

/** Body-parser and other thrown errors, mapped to 4xx where the client is at fault. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: { type?: string; status?: number; message?: string; limit?: number }, req, res, _next) => {
    if (res.headersSent) return;
    switch (err.type) {
      case 'entity.parse.failed':
        return sendError(res, 400, 'malformed_json', 'request body is not valid JSON');
      case 'entity.too.large':
        return sendError(res, 413, 'body_too_large', `request body exceeds ${err.limit} bytes`);
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return sendError(res, 415, 'unsupported_encoding', err.message ?? 'unsupported encoding');
      case 'request.aborted':
        return sendError(res, 400, 'request_aborted', 'request aborted');
    }
    if (err.status && err.status >= 400 && err.status < 500) {
      return sendError(res, err.status, 'bad_request', err.message ?? 'bad request');
    }
    logger.error({ err, path: req.path }, 'unhandled error in request');
    sendError(res, 500, 'internal_error', 'internal error');
  };
}
