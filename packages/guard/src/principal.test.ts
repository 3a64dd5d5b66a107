import { describe, expect, it } from 'vitest';
import { authorize, isAllowed } from './principal.js';

describe('authorize', () => {
  it('throws UNAUTHENTICATED without a principal', () => {
    expect(() => authorize(undefined, 'infer', 'm')).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('grants by role and denies with FORBIDDEN', () => {
    expect(() => authorize({ id: 'a', roles: ['infer'] }, 'infer', 'm')).not.toThrow();
    expect(() => authorize({ id: 'a', roles: ['read'] }, 'infer', 'm')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(() => authorize({ id: 'a', roles: ['nope'] }, 'read', 'm')).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(isAllowed({ id: 'a', roles: ['admin'] }, 'admin', undefined)).toBe(true);
  });

  it('restricts by the principal models and by role models', () => {
    const principal = { id: 'a', roles: ['infer'], models: ['fraud*'] };
    expect(isAllowed(principal, 'infer', 'fraud-v2')).toBe(true);
    expect(isAllowed(principal, 'infer', 'churn')).toBe(false);
    const roles = { scorer: { actions: ['infer'], models: ['churn'] } };
    expect(isAllowed({ id: 'b', roles: ['scorer'] }, 'infer', 'churn', roles)).toBe(true);
    expect(isAllowed({ id: 'b', roles: ['scorer'] }, 'infer', 'fraud', roles)).toBe(false);
    expect(isAllowed({ id: 'c', roles: [], actions: ['read'] } as never, 'read', 'x')).toBe(true);
    expect(isAllowed({ id: 'c', roles: ['__proto__', 'constructor'] }, 'read', 'x')).toBe(false);
  });
});
