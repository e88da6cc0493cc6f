#!/usr/bin/env -S node --max-semi-space-size=8
'use strict';
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// CommonJS on purpose: libuv's thread pool starts with the first asynchronous file operation,
// and an ES module entry point is itself read through that pool, so only a CommonJS launcher
// can still size it. More threads let the agent keep many fsyncs and file reads in flight.
//
// The first line's node options are the long-running daemons' memory settings, and only node's
// command line can set them (V8 sizes its young generation when the heap is created; changing
// the flag later has no effect). A 8 MiB semi-space instead of V8's 16 MiB: the agent's main
// thread filled and kept all 32 MiB of its young generation during mixed-tree transfers; with 8
// its peak RSS went from 239-242 to 203 MB, and small-file transfers measured no more CPU
// (20,000 files: 2.72-3.08 CPU-s against 2.79-3.16). `node bin/ferry.cjs` skips this line: give
// node the same options there (the bench reads them from this line) for the same memory.
process.env.UV_THREADPOOL_SIZE ??= '16';
import('../dist/cli/main.js').catch((err) => {
  process.stderr.write(`ferry: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
