import { markDeprovisioned, markProvisioned } from '../addon-lifecycle.ts';
import { returnedConfigProblems } from '../config-rules.ts';
import type { SimContext } from '../context.ts';
import type { ProviderCall, ViolationKind } from '../log.ts';
import { writeAddonConfig } from '../state/addon-config.ts';
import type { SimAddon } from '../state/types.ts';
import { answered, bodyMessage, failureReason } from './outcomes.ts';
import type { ProviderExchange } from './provider-client.ts';

/**
 * Applies the provider's answer to a provision the way Heroku would:
 * 200 → config checked against the manifest, add-on provisioned, one release;
 * 202 → stays provisioning until actions/provision (deadline timer starts);
 * anything else (or non-JSON, timeout, bad body) → the provision failed and the add-on is removed.
 * A failing replay of an add-on that already succeeded is a broken idempotency promise: it is
 * recorded, but the add-on is left alone because Heroku already has its answer.
 * Returns the failure reason, or null.
 */
export function applyProvisionAnswer(
  ctx: SimContext,
  addon: SimAddon,
  exchange: ProviderExchange,
  replay: boolean,
): string | null {
  const { call } = exchange;
  const flag = (kind: ViolationKind, message: string) =>
    ctx.log.violation(ctx.now(), kind, message, addon.id, call.seq);
  const failure = answered(call, exchange.violations) ? interpret(ctx, addon, call, flag) : failureReason(call);
  if (failure === null) return null;

  if (replay && addon.providerId !== null) {
    flag(
      'replay-not-idempotent',
      `a repeated provision of ${addon.id} failed (${failure}) after an earlier one succeeded`,
    );
  }
  if (addon.state === 'provisioning') {
    markDeprovisioned(ctx, addon, { failure: `provision failed: ${failure}` });
  }
  return failure;
}

function interpret(
  ctx: SimContext,
  addon: SimAddon,
  call: ProviderCall,
  flag: (kind: ViolationKind, message: string) => void,
): string | null {
  const status = call.status ?? 0;
  if (status !== 200 && status !== 201 && status !== 202) {
    if (status >= 200 && status < 300)
      flag('unexpected-status', `provision answered ${status}; Heroku expects 200 (ready) or 202 (provisioning)`);
    return failureReason(call);
  }
  if (status === 201)
    flag('unexpected-status', 'provision answered 201; Heroku expects 200 (ready) or 202 (provisioning)');

  const body = call.responseBody as { id?: unknown; config?: unknown; message?: unknown } | null;
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.id !== 'string' || body.id === '') {
    flag('invalid-provision-response', `provision answered ${status} without a string "id"`);
    return `the provider answered ${status} without an id`;
  }
  const problems = status === 202 ? [] : returnedConfigProblems(body.config, ctx.options.addon);
  if (problems.length > 0) {
    flag('invalid-config', `provision config rejected: ${problems.join('; ')}`);
    return `invalid config: ${problems.join('; ')}`;
  }
  recordProviderId(ctx, addon, body.id, flag);
  addon.message = bodyMessage(body) ?? addon.message;
  if (addon.state === 'deprovisioned') return null; // an earlier copy already failed it; Heroku has moved on

  if (status === 202) {
    // A fast provider may call actions/provision before its 202 reaches us; then there is nothing to wait for.
    if (addon.state === 'provisioning') {
      addon.asyncAcceptedAt ??= ctx.now();
      ctx.deadlines.start(addon.id, ctx.options.asyncProvisionTimeoutMs, () => expireProvisioning(ctx, addon));
    }
    return null;
  }
  const config = (body.config ?? {}) as Record<string, string>;
  writeAddonConfig(ctx.store, addon, config, ctx.options.addon.configVarsPrefix, {
    release: addon.state === 'provisioned',
    description: `Update ${ctx.options.addon.configVarsPrefix} by ${ctx.options.addon.id}`,
    now: ctx.now(),
  });
  markProvisioned(ctx, addon, `Attach ${addon.name} add-on`);
  return null;
}

function recordProviderId(
  ctx: SimContext,
  addon: SimAddon,
  id: string,
  flag: (kind: ViolationKind, message: string) => void,
): void {
  if (addon.providerId !== null) {
    if (addon.providerId !== id)
      flag(
        'replay-not-idempotent',
        `a repeated provision of ${addon.id} answered id ${id}, earlier ${addon.providerId}`,
      );
    return;
  }
  const clash = [...ctx.store.addons.values()].find((other) => other.id !== addon.id && other.providerId === id);
  if (clash) flag('duplicate-provider-id', `provision of ${addon.id} answered id ${id}, already used for ${clash.id}`);
  addon.providerId = id;
}

/** Heroku's 12-hour rule: an add-on still provisioning after a 202 is removed (not charged). */
export function expireProvisioning(ctx: SimContext, addon: SimAddon): void {
  if (addon.state !== 'provisioning') return;
  markDeprovisioned(ctx, addon, { failure: 'provision failed: not marked provisioned before the async deadline' });
}
