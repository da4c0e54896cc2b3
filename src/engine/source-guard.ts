import { resolveAllowedHost, HostLookupError, HostNotAllowedError, type HostPolicy } from '../net/host-guard.ts';
import { connectionFailed, sourceNotAllowed } from './dump-failures.ts';
import type { ConnectionParams } from './source.ts';

/** Refuses everything but public hosts: what production runs with. */
export const PUBLIC_HOSTS_ONLY: HostPolicy = { allowPrivate: false };

/**
 * Resolves the connection's host once and checks every address against the policy; the connection
 * that comes back carries those addresses, which pg_dump and the probe connect to (`hostaddr`).
 * Refused: `source_not_allowed`, naming no address. A name that does not resolve: `connection_failed`,
 * retryable only when the resolver could not answer.
 */
export async function guardConnection(
  connection: ConnectionParams,
  policy: HostPolicy = PUBLIC_HOSTS_ONLY,
): Promise<ConnectionParams> {
  try {
    const addresses = await resolveAllowedHost(connection.host, policy);
    return { ...connection, addresses };
  } catch (error) {
    if (error instanceof HostNotAllowedError) throw sourceNotAllowed(error);
    if (error instanceof HostLookupError)
      throw connectionFailed(`could not connect: ${error.message}`, !error.notFound, undefined, error);
    throw error;
  }
}
