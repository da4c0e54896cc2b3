#!/usr/bin/env -S node --expose-gc
// The one-shot command (`npx big-backup capture|verify …`), e.g. on a detached one-off dyno. It runs with
// --expose-gc, as the worker does, for the garbage pacer (src/engine/garbage-pacer.ts).
import { runCli } from '../cli/main.ts';

const code = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
process.exitCode = code;
// Everything is closed by now; should a socket linger anyway, do not let it keep the dyno running.
setTimeout(() => process.exit(code), 2000).unref();
