import { resolve } from 'node:path';
import { runPackageCheck } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { koa: '^2.16.0 || ^3.0.0' });
