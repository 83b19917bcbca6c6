import { resolve } from 'node:path';
import { runPackageCheck } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { h3: '^1.15.0 || ^2.0.0' });
