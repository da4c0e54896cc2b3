import { after, before } from 'node:test';
import {
  startHerokuSimulator,
  type HerokuSimulator,
  type HerokuSimulatorOptions,
} from '../../../../dev/simulator/index.ts';
import { SECRETS, startContractProvider, type ContractProvider } from './contract-provider.ts';

/** A controllable millisecond clock starting at real time (SSO checks in the provider read Date.now). */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
}

/** Creates a clock that only moves when told to. */
export function testClock(): TestClock {
  let t = Date.now();
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

/** The simulator and provider of one test file. */
export interface Pair {
  sim: HerokuSimulator;
  provider: ContractProvider;
  clock: TestClock;
}

/** Starts the provider, then the simulator pointed at it; both stop after the file. */
export function useSimulator(extra: Partial<HerokuSimulatorOptions> = {}): Pair {
  const pair = { clock: testClock() } as Pair;
  before(async () => {
    pair.provider = await startContractProvider();
    pair.sim = await startHerokuSimulator({
      addon: {
        id: SECRETS.addonId,
        password: SECRETS.password,
        ssoSalt: SECRETS.ssoSalt,
        baseUrl: pair.provider.baseUrl,
        ssoUrl: pair.provider.ssoUrl,
      },
      oauthClientSecret: SECRETS.clientSecret,
      now: pair.clock.now,
      ...extra,
    });
    pair.provider.herokuUrl = pair.sim.url;
  });
  after(async () => {
    await pair.sim?.stop();
    await pair.provider?.stop();
  });
  return pair;
}
