import { after } from 'node:test';

// Loaded into every test file's process (`node --test --import`). A file whose tests have all finished
// but that still holds a handle (a leaked socket or timer) would keep its process, and so the whole run,
// alive. This ends such a process 20 seconds after its tests, long after its own after() hooks have
// stopped their servers. The timer is unref'd: a file that ends cleanly exits at once.
//
// It replaces `--test-force-exit`, which also forces the parent process out and, with concurrency, can
// drop child verdicts before they are read (nodejs/node#64833): a run then reports fewer tests and exits 0.
const GRACE_MS = 20_000;

after(() => {
  setTimeout(() => {
    process.stderr.write(
      `test process ${process.pid} still held handles ${GRACE_MS / 1000} s after its tests; ending it\n`,
    );
    process.exit();
  }, GRACE_MS).unref();
});
