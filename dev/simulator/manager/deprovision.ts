import { markDeprovisioned } from '../addon-lifecycle.ts';
import type { SimContext } from '../context.ts';
import { findServiceAddon } from '../state/store.ts';
import { answered, baseOutcome, failureReason, type DeprovisionOutcome } from './outcomes.ts';
import { callProvider } from './provider-client.ts';

/** Deprovision options. */
export interface DeprovisionOptions {
  /** The add-on is enrolled in asynchronous deprovisioning (a 202 is then legitimate). */
  allowAsync?: boolean;
}

/**
 * `DELETE {base_url}/{uuid}`. Any 2xx but 202, or 410, means done: the add-on is deprovisioned, its
 * vars removed (one release) and its partner authorization revoked. 202 leaves it pending until
 * actions/deprovision. It may be sent again for an add-on that is already gone: the contract says
 * repeats must still answer 2xx or 410, never 404 or 5xx.
 */
export async function deprovision(
  ctx: SimContext,
  uuid: string,
  opts: DeprovisionOptions = {},
): Promise<DeprovisionOutcome> {
  const addon = findServiceAddon(ctx.store, uuid);
  if (!addon) throw new Error(`simulator: no add-on ${uuid}`);
  const wasGone = addon.state === 'deprovisioned';
  const exchange = await callProvider(ctx, {
    operation: 'deprovision',
    addonId: addon.id,
    method: 'DELETE',
    path: `/${addon.id}`,
  });
  const { call } = exchange;
  const status = call.status ?? 0;

  if (answered(call, exchange.violations) && status === 202) {
    if (!opts.allowAsync) {
      ctx.log.violation(
        ctx.now(),
        'async-deprovision-not-enabled',
        'deprovision answered 202 but asynchronous deprovisioning was not enabled for this add-on',
        addon.id,
        call.seq,
      );
    }
    if (!wasGone) addon.pendingDeprovision = true;
    return { ...baseOutcome(ctx, addon, call, null), result: 'pending' };
  }
  if (answered(call, exchange.violations) && ((status >= 200 && status < 300) || status === 410)) {
    markDeprovisioned(ctx, addon);
    return { ...baseOutcome(ctx, addon, call, null), result: 'deprovisioned' };
  }
  const failure = failureReason(call);
  if (wasGone) {
    ctx.log.violation(
      ctx.now(),
      'replay-not-idempotent',
      `a repeated deprovision of ${addon.id} failed (${failure}); repeats must answer 2xx or 410`,
      addon.id,
      call.seq,
    );
  }
  return { ...baseOutcome(ctx, addon, call, failure), result: 'failed' };
}
