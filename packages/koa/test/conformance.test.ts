import Koa3 from 'koa';
import Koa2 from 'koa2';
import { listen, runAdapterConformance } from '@sess/adapter-test';
import { contractApp } from './routes.js';

for (const [name, Koa] of [
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const) {
  runAdapterConformance({ name, start: (options) => listen(contractApp(Koa, options).callback()) });
}
