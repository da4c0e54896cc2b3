import type { SimContext } from '../context.ts';
import { findServiceAddon } from '../state/store.ts';
import type { SimAddon } from '../state/types.ts';
import { baseOutcome, type ProvisionOutcome } from './outcomes.ts';
import { callProvider } from './provider-client.ts';
import { prepareProvision, type ProvisionInput } from './provision-request.ts';
import { applyProvisionAnswer } from './provision-response.ts';

/** How to resend a provision Heroku already sent (at-least-once delivery). */
export interface ReplayOptions {
  /** How many copies to send; default 1. */
  times?: number;
  /** Send all copies at once instead of one after another. */
  concurrent?: boolean;
}

/** Provisions an add-on: prepares the records and grant, POSTs the v3 body, applies the answer. */
export async function provision(ctx: SimContext, input: ProvisionInput = {}): Promise<ProvisionOutcome> {
  const prepared = prepareProvision(ctx, input);
  return send(ctx, prepared.addon, false);
}

/**
 * Sends `copies` identical first-time provision requests at once (same uuid, same grant), as a
 * retrying delivery can. Answers are applied as they arrive; if they disagree (one 200, one 500),
 * that is recorded as a replay-not-idempotent violation.
 */
export async function provisionConcurrently(
  ctx: SimContext,
  input: ProvisionInput,
  copies: number,
): Promise<ProvisionOutcome[]> {
  const prepared = prepareProvision(ctx, input);
  const outcomes = await Promise.all(Array.from({ length: copies }, (_, i) => send(ctx, prepared.addon, i > 0)));
  const kinds = new Set(outcomes.map((o) => (o.failure === null ? 'ok' : 'failed')));
  if (kinds.size > 1) {
    const statuses = outcomes.map((o) => o.status ?? o.call.error).join(', ');
    ctx.log.violation(
      ctx.now(),
      'replay-not-idempotent',
      `identical concurrent provisions of ${prepared.addon.id} got different answers: ${statuses}`,
      prepared.addon.id,
    );
  }
  return outcomes;
}

/** Resends an earlier provision byte for byte (same uuid, same grant code), sequentially or concurrently. */
export async function replayProvision(
  ctx: SimContext,
  uuid: string,
  opts: ReplayOptions = {},
): Promise<ProvisionOutcome[]> {
  const addon = findServiceAddon(ctx.store, uuid);
  if (!addon) throw new Error(`simulator: no add-on ${uuid} to replay`);
  const times = opts.times ?? 1;
  if (opts.concurrent) return Promise.all(Array.from({ length: times }, () => send(ctx, addon, true)));
  const outcomes: ProvisionOutcome[] = [];
  for (let i = 0; i < times; i++) outcomes.push(await send(ctx, addon, true));
  return outcomes;
}

async function send(ctx: SimContext, addon: SimAddon, replay: boolean): Promise<ProvisionOutcome> {
  const body = addon.provisionBody;
  if (!body) throw new Error(`simulator: add-on ${addon.id} was never provisioned through the provider`);
  const exchange = await callProvider(ctx, { operation: 'provision', addonId: addon.id, method: 'POST', body });
  const failure = applyProvisionAnswer(ctx, addon, exchange, replay);
  const result = addon.state === 'deprovisioned' ? 'failed' : addon.state;
  return {
    ...baseOutcome(ctx, addon, exchange.call, failure),
    result,
    grantCode: body.oauth_grant?.code ?? null,
    requestBody: body,
    replay,
  };
}
