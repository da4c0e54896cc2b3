import Heroku, { type HerokuClientError } from 'heroku-client';

/** The add-on as the Platform API describes it (the fields we read). */
export interface HerokuAddon {
  id: string;
  name: string;
  state: string;
  app: { id: string; name: string };
  plan: { name: string };
}

/** A non-2xx answer from the Platform API. */
export class PlatformApiError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'PlatformApiError';
    this.statusCode = statusCode;
  }
}

/** The Platform API calls we make with one access token. */
export interface PlatformApi {
  getAddon(addonId: string): Promise<HerokuAddon>;
}

/** Builds a Platform API client over heroku-client, sending the token as a Bearer header. */
export function createPlatformApi(apiUrl: string, accessToken: string): PlatformApi {
  const client = new Heroku({
    host: apiUrl,
    headers: { Authorization: `Bearer ${accessToken}` },
    timeout: 15_000,
  });
  return {
    async getAddon(addonId) {
      return call(() => client.get<HerokuAddon>(`/addons/${encodeURIComponent(addonId)}`), 'reading the add-on');
    },
  };
}

async function call<T>(fn: () => Promise<T>, what: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const status = (error as HerokuClientError).statusCode;
    const body = (error as HerokuClientError).body as { id?: string; message?: string } | undefined;
    if (typeof status === 'number') {
      throw new PlatformApiError(
        status,
        `Heroku answered ${status} ${what}${body?.message ? `: ${body.message}` : ''}`,
      );
    }
    throw new Error(`could not reach the Heroku Platform API ${what}: ${(error as Error).message}`, { cause: error });
  }
}
