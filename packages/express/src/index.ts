/** @packageDocumentation Express 5 middleware and Open Inference Protocol v2 routes for Ballast models */
export {};
