import type { SimContext } from '../context.ts';
import type { SimAddon } from '../state/types.ts';
import { deprovision, type DeprovisionOptions } from './deprovision.ts';
import type { DeprovisionOutcome, PlanChangeOutcome, ProvisionOutcome } from './outcomes.ts';
import { changePlan } from './plan-change.ts';
import { callProvider, type ProviderExchange, type ProviderRequest } from './provider-client.ts';
import type { ProvisionInput } from './provision-request.ts';
import { expireProvisioning } from './provision-response.ts';
import { provision, provisionConcurrently, replayProvision, type ReplayOptions } from './provision.ts';

/** A hand-made request to the provider's base_url; nothing in the simulator's state changes. */
export type RawProviderRequest = Omit<ProviderRequest, 'operation' | 'addonId'> & { addonId?: string };

/** Heroku's add-on manager, driven by tests: everything Heroku sends to the provider. */
export interface AddonManagerDriver {
  /** Provisions a new add-on (see ProvisionInput for defaults). */
  provision(input?: ProvisionInput): Promise<ProvisionOutcome>;
  /** Sends `copies` identical first-time provisions at once. */
  provisionConcurrently(input: ProvisionInput, copies: number): Promise<ProvisionOutcome[]>;
  /** Resends an earlier provision byte for byte. */
  replayProvision(uuid: string, opts?: ReplayOptions): Promise<ProvisionOutcome[]>;
  /** `PUT {base_url}/{uuid}` `{plan}`. */
  changePlan(uuid: string, plan: string, extraFields?: Record<string, unknown>): Promise<PlanChangeOutcome>;
  /** `DELETE {base_url}/{uuid}`; may be repeated. */
  deprovision(uuid: string, opts?: DeprovisionOptions): Promise<DeprovisionOutcome>;
  /** Sends anything (wrong credentials, no credentials, arbitrary body) and reports the answer. */
  sendToProvider(req: RawProviderRequest): Promise<ProviderExchange>;
  /** Fails every add-on still provisioning past the async deadline by the simulator clock; returns them. */
  enforceProvisionDeadlines(): SimAddon[];
}

/** Builds the driver over the shared simulator context. */
export function createAddonManagerDriver(ctx: SimContext): AddonManagerDriver {
  return {
    provision: (input) => provision(ctx, input),
    provisionConcurrently: (input, copies) => provisionConcurrently(ctx, input, copies),
    replayProvision: (uuid, opts) => replayProvision(ctx, uuid, opts),
    changePlan: (uuid, plan, extraFields) => changePlan(ctx, uuid, plan, extraFields),
    deprovision: (uuid, opts) => deprovision(ctx, uuid, opts),
    sendToProvider: (req) => callProvider(ctx, { ...req, operation: 'raw', addonId: req.addonId ?? null }),
    enforceProvisionDeadlines: () => {
      const overdue = [...ctx.store.addons.values()].filter(
        (a) =>
          a.state === 'provisioning' &&
          a.asyncAcceptedAt !== null &&
          a.createdAt + ctx.options.asyncProvisionTimeoutMs <= ctx.now(),
      );
      for (const addon of overdue) expireProvisioning(ctx, addon);
      return overdue;
    },
  };
}
