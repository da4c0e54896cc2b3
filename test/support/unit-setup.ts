import { checkCheckoutUnchanged, recordCheckout } from './checkout-guard.ts';

/**
 * The unit run's global setup: it starts no server (unit tests need none; global-setup.ts starts the
 * PostgreSQL server the integration and browser runs share) and only checks that the run leaves the
 * checkout as it found it.
 */
export function globalSetup(): void {
  recordCheckout();
}

export function globalTeardown(): void {
  checkCheckoutUnchanged();
}
