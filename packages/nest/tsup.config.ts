import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared';

// ES module only, as Nest 12 itself (`@nestjs/common` and `@nestjs/core` are `"type": "module"`
// with no `require` export): a CommonJS build would hand CommonJS apps types they cannot use
// (TS1479 under `moduleResolution: node16`). Node 22 loads it from `require()` too.
export default defineConfig({ ...packageBuild(), format: ['esm'] });
