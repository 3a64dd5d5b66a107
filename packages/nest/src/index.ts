/** @packageDocumentation NestJS module, guard, interceptor and exception filter for Ballast models */
export {};
