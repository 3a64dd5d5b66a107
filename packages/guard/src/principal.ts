import { BallastError, type Principal } from '@ballast/core';

/** Actions the adapters check. Apps may use their own strings too. */
export type GuardAction = 'infer' | 'read' | 'admin' | (string & {});

/** A principal as the guard knows it: core's `Principal` plus what it may do. */
export interface GuardPrincipal extends Principal {
  /** The API key id that authenticated this principal, when a key did. */
  readonly keyId?: string;
  /** Model names or `prefix*` patterns this principal is restricted to; absent means no restriction. */
  readonly models?: readonly string[];
  /** Actions granted directly, on top of the roles. */
  readonly actions?: readonly string[];
}

/** What a role grants: actions on models. `*` matches everything; `prefix*` matches by prefix. */
export interface RolePolicy {
  /** Actions granted (`infer`, `read`, `admin`, or `*`). */
  readonly actions: readonly string[];
  /** Models the actions apply to; defaults to every model. */
  readonly models?: readonly string[];
}

/** Role name → policy. */
export type RolePolicies = Readonly<Record<string, RolePolicy>>;

/**
 * The roles used when a guard is given none: `admin` may do anything, `infer` may call and read
 * every model, `read` may only read metadata and readiness.
 */
export const DEFAULT_ROLES: RolePolicies = Object.freeze({
  admin: { actions: ['*'] },
  infer: { actions: ['infer', 'read'] },
  read: { actions: ['read'] },
});

/** True when `value` matches one of `patterns` (`*`, exact, or `prefix*`). */
export function matchesAny(patterns: readonly string[], value: string): boolean {
  for (const pattern of patterns) {
    if (pattern === '*' || pattern === value) return true;
    if (pattern.endsWith('*') && value.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}

/**
 * Checks that `principal` may perform `action` on `model`, throwing `UNAUTHENTICATED` when there
 * is no principal and `FORBIDDEN` when it lacks the grant.
 *
 * A grant comes from the principal's own `actions` or from any of its roles' policies (a role's
 * `models` limit where its actions apply). The principal's `models`, when set, restrict every
 * grant. Unknown roles grant nothing.
 *
 * @example
 * authorize({ id: 'app', roles: ['infer'] }, 'infer', 'fraud'); // passes
 * authorize({ id: 'app', roles: ['read'] }, 'infer', 'fraud');  // throws FORBIDDEN
 */
export function authorize(
  principal: GuardPrincipal | Principal | undefined,
  action: GuardAction,
  model: string | undefined,
  roles: RolePolicies = DEFAULT_ROLES,
): void {
  if (principal === undefined || principal === null) {
    throw new BallastError('UNAUTHENTICATED', 'authentication required');
  }
  if (!isAllowed(principal, action, model, roles)) {
    throw new BallastError('FORBIDDEN', model === undefined ? `not allowed to ${action}` : `not allowed to ${action} on model "${model}"`, {
      details: { action, ...(model === undefined ? {} : { model }), principal: principal.id },
    });
  }
}

/** Like {@link authorize} but returns a boolean. */
export function isAllowed(
  principal: GuardPrincipal | Principal,
  action: GuardAction,
  model: string | undefined,
  roles: RolePolicies = DEFAULT_ROLES,
): boolean {
  const p = principal as GuardPrincipal;
  const target = model ?? '';
  if (model !== undefined && p.models !== undefined && !matchesAny(p.models, target)) return false;
  if (p.actions !== undefined && matchesAny(p.actions, action)) return true;
  for (const role of p.roles ?? []) {
    const policy = Object.hasOwn(roles, role) ? roles[role] : undefined;
    if (policy === undefined || !matchesAny(policy.actions, action)) continue;
    if (model === undefined || policy.models === undefined || matchesAny(policy.models, target)) return true;
  }
  return false;
}
