import type { SimContext } from '../context.ts';
import type { ProviderCall, Violation } from '../log.ts';
import type { ProvisionBody, SimAddon } from '../state/types.ts';

/** What one call from the add-on manager to the provider led to. */
export interface ManagerOutcome {
  uuid: string;
  /** HTTP status, or null on timeout / connection failure. */
  status: number | null;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: unknown;
  call: ProviderCall;
  /** Violations attributed to this call. */
  violations: Violation[];
  /** Why Heroku would consider this call failed, or null. */
  failure: string | null;
  /** Snapshot of the add-on right after the answer was applied. */
  addon: SimAddon;
}

/** Result of a provision (or a replay of one). */
export interface ProvisionOutcome extends ManagerOutcome {
  /** The add-on's state afterwards; `failed` means it ended deprovisioned with a failure. */
  result: 'provisioned' | 'provisioning' | 'failed';
  grantCode: string | null;
  requestBody: ProvisionBody;
  replay: boolean;
}

/** Result of a plan change. */
export interface PlanChangeOutcome extends ManagerOutcome {
  result: 'changed' | 'refused' | 'failed';
  /** The provider's user-facing `message`, if any. */
  message: string | null;
}

/** Result of a deprovision. */
export interface DeprovisionOutcome extends ManagerOutcome {
  /** `pending`: the provider answered 202 and must call actions/deprovision. */
  result: 'deprovisioned' | 'pending' | 'failed';
}

/** Common fields of an outcome; violations are collected from the log so checks made after the call count too. */
export function baseOutcome(
  ctx: SimContext,
  addon: SimAddon,
  call: ProviderCall,
  failure: string | null,
): ManagerOutcome {
  return {
    uuid: addon.id,
    status: call.status,
    body: call.responseBody,
    call,
    violations: ctx.log.violations.filter((v) => v.callSeq === call.seq),
    failure,
    addon: structuredClone(addon),
  };
}

/** A short reason for a failed call, including the provider's `message` when it sent one. */
export function failureReason(call: ProviderCall): string {
  if (call.error === 'timeout') return 'the provider did not answer in time';
  if (call.error === 'network') return `could not reach the provider: ${call.errorMessage}`;
  const message = bodyMessage(call.responseBody);
  return `the provider answered ${call.status}${message ? `: ${message}` : ''}`;
}

/** The `message` field of a JSON body, if it is a string. */
export function bodyMessage(body: unknown): string | null {
  const message = (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : null;
}

/** True when the call got a JSON (or allowed empty) answer the caller may interpret. */
export function answered(call: ProviderCall, violations: Violation[]): boolean {
  return call.status !== null && !violations.some((v) => v.kind === 'non-json-response');
}
