import { httpSuite } from '../../serving/test/http-suite.js';
import { startNestApp } from './nest-app.js';

httpSuite('nest', (models, { guard }) => startNestApp(models, { guard }));
