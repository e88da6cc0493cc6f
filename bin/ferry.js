#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
// More libuv threads let the agent fsync many small files at once (measured: 2,750 -> 3,370
// files/s for 4 KiB files on ext4); the pool is created lazily, so this must run first.
process.env.UV_THREADPOOL_SIZE ??= '16';
await import('../dist/cli/main.js');
