import test from 'node:test';
import assert from 'node:assert/strict';
import { forkAttachmentName } from '../../src/forks/fork-lifecycle.ts';

test('fork attachment names differ between add-ons sharing a scratch app, and between attempts', () => {
  const one = { name: 'b001', attempt: 1, resourceId: '3f2a1b9c-0000-4000-8000-000000000001' };
  const other = { name: 'b001', attempt: 1, resourceId: '7d00e1aa-0000-4000-8000-000000000002' };
  assert.equal(forkAttachmentName(one), 'BIGBACKUP_FORK_3F2A1B9C_B001');
  assert.notEqual(forkAttachmentName(one), forkAttachmentName(other));
  assert.equal(forkAttachmentName({ ...one, attempt: 3 }), 'BIGBACKUP_FORK_3F2A1B9C_B001_3');
  // What Heroku accepts as an attachment name.
  for (const name of [forkAttachmentName(one), forkAttachmentName({ ...other, name: 'a123', attempt: 12 })])
    assert.match(name, /^[A-Z][A-Z0-9_]*$/);
});
