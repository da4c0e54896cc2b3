import { isIP } from 'node:net';
import {
  HostLookupError,
  HostNotAllowedError,
  resolveAllowedHost,
  type HostPolicy,
  type Lookup,
} from '../net/host-guard.ts';

/** Where webhooks may go: https only in production; never to our own network unless the policy allows it. */
export interface WebhookPolicy {
  requireHttps: boolean;
  hosts: HostPolicy;
  lookup?: Lookup;
}

/** The URL is not one we send to; the message is for the admin and names no address. */
export class WebhookUrlRefused extends Error {
  override readonly name = 'WebhookUrlRefused';
  /** True when the name did not resolve right now (worth trying again later), not a refusal. */
  readonly temporary: boolean;
  constructor(message: string, temporary = false) {
    super(message);
    this.temporary = temporary;
  }
}

/** Syntax only (no DNS): a URL a person typed, trimmed; what `checkWebhookUrl` resolves. */
export function parseWebhookUrl(raw: string, policy: Pick<WebhookPolicy, 'requireHttps'>): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new WebhookUrlRefused('Enter the full URL of the webhook, starting with https://.');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !policy.requireHttps))
    throw new WebhookUrlRefused('Webhook URLs must start with https://.');
  if (url.username || url.password)
    throw new WebhookUrlRefused('Put no user name or password in the webhook URL; each delivery is signed instead.');
  if (url.hash) url.hash = '';
  if (raw.length > 2000) throw new WebhookUrlRefused('The webhook URL is too long (2000 characters at most).');
  return url;
}

/**
 * Checks a webhook URL as the guard checks database hosts: resolved once, every address allowed.
 * Returns the URL and the address to connect to (the caller pins the connection to it). Called when
 * a webhook is saved and again before every delivery, since what a name resolves to can change.
 */
export async function checkWebhookUrl(raw: string, policy: WebhookPolicy): Promise<{ url: URL; address: string }> {
  const url = parseWebhookUrl(raw, policy);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host || (isIP(host) === 0 && !/^[a-z0-9.-]+$/i.test(host)))
    throw new WebhookUrlRefused('The webhook URL has no usable host name.');
  try {
    const addresses = await resolveAllowedHost(host, policy.hosts, policy.lookup ? { lookup: policy.lookup } : {});
    return { url, address: addresses[0]! };
  } catch (error) {
    if (error instanceof HostNotAllowedError)
      throw new WebhookUrlRefused(
        `Webhooks cannot be sent to this host: it is, or resolves to, a ${error.addressClass} address. Use a public https:// URL.`,
      );
    if (error instanceof HostLookupError)
      throw new WebhookUrlRefused(
        error.notFound
          ? 'The webhook host name does not resolve.'
          : 'The webhook host name could not be resolved right now.',
        !error.notFound,
      );
    throw error;
  }
}
