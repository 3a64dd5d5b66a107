/** @packageDocumentation Model versions, canary, blue-green, shadow traffic and automatic rollback */
export {};
