/** @packageDocumentation API keys, roles, per-principal limits, input and output guards and audit logs */
export {};
