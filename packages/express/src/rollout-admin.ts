import type { Principal } from '@ballast/core';
import express, { type Request, type Response, type Router } from 'express';
import { sendError } from './errors.js';
import { readJson } from './http-context.js';

/** What an admin operation answers: an HTTP status and a JSON body (the same shape as `@ballast/rollout`'s). */
export interface AdminResponse {
  /** HTTP status to send. */
  status: number;
  /** JSON body to send. */
  body: unknown;
}

/** @deprecated Use {@link AdminResponse}, the same shape under the name `@ballast/rollout` uses. */
export type AdminAnswer = AdminResponse;

/**
 * The admin operations of `@ballast/rollout`'s `rolloutAdmin()`, described structurally so this
 * package does not depend on the rollout package. Each checks the principal's role itself.
 */
export interface RolloutAdminOperations {
  status(principal: Principal | undefined, name?: string): Promise<AdminResponse>;
  promote(principal: Principal | undefined, name: string, body?: unknown): Promise<AdminResponse>;
  rollback(principal: Principal | undefined, name: string, body?: unknown): Promise<AdminResponse>;
}

/** Options of {@link rolloutAdminRoutes}. */
export interface RolloutAdminRoutesOptions {
  /** Largest request body (`{ "reason": "..." }`), bytes. Default 4096. */
  maxBodyBytes?: number;
}

/**
 * Express routes for rollout administration, to mount behind the Ballast router's
 * authentication: `GET /` (every rollout's status), `GET /:name`, `POST /:name/promote` and
 * `POST /:name/rollback` with an optional `{ "reason": "..." }` body. The rollout admin decides
 * who may do what (by default the `admin` role for every operation); errors answer with the
 * Ballast status and `{ error }` body.
 *
 * @example
 * const admin = rolloutAdmin({ rollouts: [fraudRollout], readRole: 'read' });
 * const router = ballastRouter({ models, guard, mount: [{ path: '/admin/rollouts', handler: rolloutAdminRoutes(admin), action: 'read' }] });
 */
export function rolloutAdminRoutes(admin: RolloutAdminOperations, options: RolloutAdminRoutesOptions = {}): Router {
  const { maxBodyBytes = 4096 } = options;
  const router = express.Router();
  const principalOf = (res: Response) => res.locals.principal as Principal | undefined;
  const answer = (res: Response, work: Promise<AdminResponse>) =>
    work.then(
      ({ status, body }) => {
        res.status(status).json(body);
      },
      (error: unknown) => {
        sendError(res, error);
      },
    );
  const bodyOf = async (request: Request, res: Response) => {
    const length = Number(request.headers['content-length'] ?? 0);
    const chunked = request.headers['transfer-encoding'] !== undefined;
    return length > 0 || chunked ? readJson(request, res, maxBodyBytes) : undefined;
  };

  router.get('/', (_request, res) => answer(res, admin.status(principalOf(res))));
  router.get('/:name', (request, res) => answer(res, admin.status(principalOf(res), String(request.params.name))));
  router.post('/:name/promote', (request, res) =>
    answer(
      res,
      bodyOf(request, res).then((body) => admin.promote(principalOf(res), String(request.params.name), body)),
    ),
  );
  router.post('/:name/rollback', (request, res) =>
    answer(
      res,
      bodyOf(request, res).then((body) => admin.rollback(principalOf(res), String(request.params.name), body)),
    ),
  );
  return router;
}
