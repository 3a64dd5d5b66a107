import 'reflect-metadata';
import { startService } from './app.js';

const { url, key } = await startService(Number(process.env.PORT ?? 3000));
console.log(`listening on ${url}`);
console.log(`api key: ${key}`);
console.log(`try: curl -s -H 'authorization: Bearer ${key}' -H 'content-type: application/json' \\
  -d '{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[0.2,-1,0.5,1.5]}]}' ${url}/v2/models/risk/infer`);
