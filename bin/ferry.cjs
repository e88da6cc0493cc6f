#!/usr/bin/env node
'use strict';
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// CommonJS on purpose: libuv's thread pool starts with the first asynchronous file operation,
// and an ES module entry point is itself read through that pool, so only a CommonJS launcher
// can still size it. More threads let the agent keep many fsyncs and file reads in flight.
process.env.UV_THREADPOOL_SIZE ??= '16';
import('../dist/cli/main.js').catch((err) => {
  process.stderr.write(`ferry: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
