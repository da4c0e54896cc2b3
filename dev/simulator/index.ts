// Public surface of the Heroku simulator: start it, then drive it and read its records.
export { startHerokuSimulator, type HerokuSimulator } from './start.ts';
export type {
  HerokuSimulatorOptions,
  SimulatedAddonManifest,
  SimulatedOAuthClient,
  SimulatedPostgresOptions,
} from './options.ts';
export { CREATED_DATABASE_NAME, type AttachPostgresOptions, type PostgresAddonSummary } from './postgres/addons.ts';
export type { AddonManagerDriver, RawProviderRequest } from './manager/driver.ts';
export type { ProvisionInput } from './manager/provision-request.ts';
export type { ReplayOptions } from './manager/provision.ts';
export type { DeprovisionOptions } from './manager/deprovision.ts';
export type { ManagerOutcome, ProvisionOutcome, PlanChangeOutcome, DeprovisionOutcome } from './manager/outcomes.ts';
export { ADDONS_ACCEPT, type ProviderAuth, type ProviderExchange } from './manager/provider-client.ts';
export type { RecordedRequest, ProviderCall, Violation, ViolationKind, SimLog, SimHost } from './log.ts';
export type { SimFaultKnobs } from './knobs.ts';
export type { ForkFault } from './faults.ts';
export type { TokenResponse } from './oauth/token-response.ts';
export type { UserTokenRequest } from './oauth/user-tokens.ts';
export { SSO_VARIANTS, type SsoForm, type SsoFormOptions, type SsoVariant } from './sso/form.ts';
export { resourceToken, userScopedResourceToken } from './sso/tokens.ts';
export type { AppSpec } from './state/apps.ts';
export type { SimStore } from './state/store.ts';
export type * from './state/types.ts';
