#!/usr/bin/env node
// The `harness` command: TypeScript sources run through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

register();
(await import('./crash.ts')).exitOnUncaught();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv);
