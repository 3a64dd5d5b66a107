import { BallastError, isBallastError, type Principal } from '@ballast/core';
import { checkReason } from './checks.js';
import type { Rollout, RolloutStatus } from './rollout.js';

/** What an admin operation answers: an HTTP status and a JSON body. */
export interface AdminResponse {
  /** HTTP status to send. */
  status: number;
  /** JSON body to send. */
  body: unknown;
}

/** Options of {@link rolloutAdmin}. */
export interface RolloutAdminOptions {
  /** The rollouts to expose, by name (an array uses each rollout's `name`). */
  // biome-ignore lint/suspicious/noExplicitAny: rollouts of any input/output types are exposed alike
  rollouts: readonly Rollout<any, any>[] | Readonly<Record<string, Rollout<any, any>>>;
  /** Role a principal needs to promote or roll back. Default `admin`. */
  role?: string;
  /** Role a principal needs to read status. Default: `role`. */
  readRole?: string;
  /**
   * Replaces the role check: called with the principal, the action (`read` for status, `admin`
   * for promote and roll back) and the rollout name (`undefined` when listing). Throw a
   * `BallastError` (`UNAUTHENTICATED`, `FORBIDDEN`) or return `false` to refuse; any other error
   * refuses with `FORBIDDEN`. The signature matches `@ballast/guard`'s `authorize`, so a guard's
   * role policies can decide.
   */
  authorize?: AdminAuthorize;
}

/**
 * Framework-free admin operations: each takes the calling principal (as set by `@ballast/guard`
 * or an adapter) and returns `{ status, body }`. They throw a `BallastError`: `UNAUTHENTICATED`
 * without a principal, `FORBIDDEN` without the role, `NOT_FOUND` for an unknown rollout,
 * `INVALID_INPUT` for a bad body; an adapter answers those with `httpStatusFor(code)` and
 * `error.toJSON()`.
 */
export interface RolloutAdmin {
  /** Status of one rollout, or `{ rollouts: [...] }` of all when `name` is omitted. */
  status(principal: Principal | undefined, name?: string): Promise<AdminResponse>;
  /** Promotes the candidate of `name`. `body` may be `{ reason?: string }`. */
  promote(principal: Principal | undefined, name: string, body?: unknown): Promise<AdminResponse>;
  /** Rolls `name` back to its stable version. `body` may be `{ reason?: string }`. */
  rollback(principal: Principal | undefined, name: string, body?: unknown): Promise<AdminResponse>;
  /**
   * The same operations with `authorize` deciding instead of the `role`/`readRole` names (a
   * custom `authorize` from the options still runs first; both must allow). An adapter that
   * serves them behind an authorization layer (`@ballast/express`'s router with a guard) passes
   * that layer's check, so permissions follow one role policy.
   *
   * @example
   * const byGuard = admin.authorizedBy((principal, action, name) => guard.authorize(principal, action, name));
   */
  authorizedBy(authorize: AdminAuthorize): RolloutAdmin;
}

/** A permission check for the admin operations (see {@link RolloutAdminOptions.authorize}). */
export type AdminAuthorize = (principal: Principal | undefined, action: 'read' | 'admin', name: string | undefined) => unknown;

function reasonOf(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new BallastError('INVALID_INPUT', 'the body must be a JSON object like { "reason": "..." }', { details: { path: '' } });
  }
  const extra = Object.keys(body).filter((key) => key !== 'reason');
  if (extra.length > 0) {
    throw new BallastError('INVALID_INPUT', `unknown field(s) in the body: ${extra.join(', ')}`, { details: { path: extra[0] } });
  }
  const reason = (body as { reason?: unknown }).reason;
  if (reason === undefined) return undefined;
  checkReason(reason);
  return reason;
}

/**
 * Builds the admin operations for rollouts: status, promote, roll back, each behind a role.
 * Mount them on any HTTP framework; `@ballast/express` maps them to routes.
 *
 * @example
 * const admin = rolloutAdmin({ rollouts: [fraudRollout], role: 'ml-admin' });
 * const { status, body } = await admin.promote(request.principal, 'fraud', { reason: 'looks good' });
 */
export function rolloutAdmin(options: RolloutAdminOptions): RolloutAdmin {
  if (typeof options !== 'object' || options === null) throw new BallastError('CONFIG', 'rolloutAdmin expects an options object');
  const { role = 'admin', authorize: custom } = options;
  if (custom !== undefined && typeof custom !== 'function')
    throw new BallastError('CONFIG', 'rolloutAdmin: "authorize" must be a function');
  const readRole = options.readRole ?? role;
  if (typeof role !== 'string' || role.length === 0 || typeof readRole !== 'string' || readRole.length === 0) {
    throw new BallastError('CONFIG', 'rolloutAdmin: "role" and "readRole" must be non-empty strings');
  }
  const table = new Map<string, Rollout<unknown, unknown>>();
  const list = Array.isArray(options.rollouts)
    ? options.rollouts.map((r) => [r?.name, r] as const)
    : Object.entries(options.rollouts ?? {});
  for (const [name, r] of list) {
    if (
      typeof name !== 'string' ||
      typeof r?.status !== 'function' ||
      typeof r.promote !== 'function' ||
      typeof r.rollback !== 'function'
    ) {
      throw new BallastError('CONFIG', 'rolloutAdmin: "rollouts" must hold rollouts made by rollout()', { details: { name } });
    }
    if (table.has(name)) throw new BallastError('CONFIG', `rolloutAdmin: two rollouts are named ${name}`, { details: { name } });
    table.set(name, r);
  }

  const runCheck = (check: AdminAuthorize, principal: Principal | undefined, action: 'read' | 'admin', name: string | undefined) => {
    let allowed: unknown;
    try {
      allowed = check(principal, action, name);
    } catch (error) {
      // Fail closed: a broken policy refuses rather than lets through.
      if (isBallastError(error)) throw error;
      throw new BallastError('FORBIDDEN', 'rollout admin: the authorization check failed', { cause: error });
    }
    if (allowed === false) throw new BallastError('FORBIDDEN', `rollout admin: not allowed to ${action}`, { details: { action } });
  };

  // `checks` decide when given; the role names decide only when there are none.
  const authorizeWith =
    (checks: readonly AdminAuthorize[]) =>
    (principal: Principal | undefined, action: 'read' | 'admin', name: string | undefined): Principal => {
      for (const check of checks) runCheck(check, principal, action, name);
      if (principal === undefined || principal === null || typeof principal.id !== 'string') {
        throw new BallastError('UNAUTHENTICATED', 'rollout admin needs an authenticated principal');
      }
      if (checks.length > 0) return principal;
      const needed = action === 'read' ? readRole : role;
      if (!Array.isArray(principal.roles) || !principal.roles.includes(needed)) {
        throw new BallastError('FORBIDDEN', `rollout admin needs the role ${needed}`, { details: { role: needed } });
      }
      return principal;
    };

  const find = (name: unknown): Rollout<unknown, unknown> => {
    const found = typeof name === 'string' ? table.get(name) : undefined;
    if (found === undefined) throw new BallastError('NOT_FOUND', `no rollout named ${String(name)}`, { details: { name } });
    return found;
  };

  const build = (checks: readonly AdminAuthorize[]): RolloutAdmin => {
    const authorize = authorizeWith(checks);
    const decide = async (
      principal: Principal | undefined,
      name: string,
      body: unknown,
      action: 'promote' | 'rollback',
    ): Promise<AdminResponse> => {
      const who = authorize(principal, 'admin', name);
      const target = find(name);
      const reason = reasonOf(body);
      const result: RolloutStatus = await target[action]({ by: who.id, ...(reason === undefined ? {} : { reason }) });
      return { status: 200, body: result };
    };

    return {
      async status(principal, name) {
        authorize(principal, 'read', name);
        if (name === undefined) return { status: 200, body: { rollouts: [...table.values()].map((r) => r.status()) } };
        return { status: 200, body: find(name).status() };
      },
      promote: (principal, name, body) => decide(principal, name, body, 'promote'),
      rollback: (principal, name, body) => decide(principal, name, body, 'rollback'),
      authorizedBy(check) {
        if (typeof check !== 'function') throw new BallastError('CONFIG', 'rolloutAdmin.authorizedBy: expects a function');
        return build([...checks, check]);
      },
    };
  };
  return build(custom === undefined ? [] : [custom]);
}
