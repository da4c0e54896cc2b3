import { returnedConfigProblems } from '../config-rules.ts';
import type { SimContext } from '../context.ts';
import { writeAddonConfig } from '../state/addon-config.ts';
import { findServiceAddon } from '../state/store.ts';
import { answered, baseOutcome, bodyMessage, failureReason, type PlanChangeOutcome } from './outcomes.ts';
import { callProvider } from './provider-client.ts';

/**
 * `PUT {base_url}/{uuid}` with `{plan}`. 200 changes the plan (and applies any returned config,
 * which makes a release); 422 is a refusal whose `message` the customer sees; v3 has no async plan
 * change, so 202 is a violation.
 */
export async function changePlan(
  ctx: SimContext,
  uuid: string,
  plan: string,
  extraFields: Record<string, unknown> = {},
): Promise<PlanChangeOutcome> {
  const addon = findServiceAddon(ctx.store, uuid);
  if (!addon) throw new Error(`simulator: no add-on ${uuid}`);
  if (addon.state !== 'provisioned')
    throw new Error(`simulator: add-on ${uuid} is ${addon.state}; Heroku only changes plans of provisioned add-ons`);
  const exchange = await callProvider(ctx, {
    operation: 'plan-change',
    addonId: addon.id,
    method: 'PUT',
    path: `/${addon.id}`,
    body: { plan, ...extraFields },
  });
  const { call } = exchange;
  const flag = (kind: 'unexpected-status' | 'invalid-config', message: string) =>
    ctx.log.violation(ctx.now(), kind, message, addon.id, call.seq);
  const message = bodyMessage(call.responseBody);

  if (!answered(call, exchange.violations))
    return { ...baseOutcome(ctx, addon, call, failureReason(call)), result: 'failed', message };
  if (call.status === 422) return { ...baseOutcome(ctx, addon, call, null), result: 'refused', message };
  if (call.status === 202) flag('unexpected-status', 'plan change answered 202; v3 has no asynchronous plan change');
  if (call.status === null || call.status < 200 || call.status >= 300 || call.status === 202) {
    return { ...baseOutcome(ctx, addon, call, failureReason(call)), result: 'failed', message };
  }
  if (call.status !== 200) flag('unexpected-status', `plan change answered ${call.status}; Heroku expects 200 or 422`);

  const config = (call.responseBody as { config?: unknown } | undefined)?.config;
  const problems = returnedConfigProblems(config, ctx.options.addon);
  if (problems.length > 0) {
    flag('invalid-config', `plan change config rejected: ${problems.join('; ')}`);
    return { ...baseOutcome(ctx, addon, call, `invalid config: ${problems.join('; ')}`), result: 'failed', message };
  }
  addon.plan = plan;
  addon.updatedAt = ctx.now();
  if (message) addon.message = message;
  writeAddonConfig(ctx.store, addon, (config ?? {}) as Record<string, string>, ctx.options.addon.configVarsPrefix, {
    release: true,
    description: `Update ${ctx.options.addon.configVarsPrefix} by ${ctx.options.addon.id}`,
    now: ctx.now(),
  });
  return { ...baseOutcome(ctx, addon, call, null), result: 'changed', message };
}
