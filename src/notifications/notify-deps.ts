import type { Mailer } from './mailer.ts';
import type { WebhookPolicy } from './webhook-url.ts';

/** What sending notifications needs, in the web process (test sends, saving webhooks) and the worker. */
export interface NotifyDeps {
  /** The dashboard's origin, for links in messages and the log stream's User-Agent. */
  publicUrl: string;
  /** Sends email; null when SMTP_URL is not set (email is then not offered). */
  mailer: Mailer | null;
  webhooks: WebhookPolicy;
  /** How long a webhook or log stream request may take. */
  timeoutMs?: number;
  /** The sweep's clock (tests move it). */
  now?: () => Date;
}
