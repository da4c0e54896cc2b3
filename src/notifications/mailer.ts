import nodemailer from 'nodemailer';

/** One email to send. */
export interface MailMessage {
  to: string[];
  subject: string;
  text: string;
  headers?: Record<string, string>;
}

/** What the SMTP server said: the reply code of the accepted message. */
export interface MailAnswer {
  status: number;
  accepted: number;
}

/** The server refused the message, or could not be reached; `status` is its reply code when it gave one. */
export class MailError extends Error {
  override readonly name = 'MailError';
  readonly status: number | null;
  /** A 5xx reply: sending the same message again would be refused again. */
  readonly permanent: boolean;
  constructor(message: string, status: number | null) {
    super(message);
    this.status = status;
    this.permanent = status !== null && status >= 500;
  }
}

/** Sends email; one per process, shared by every delivery. */
export interface Mailer {
  send(message: MailMessage): Promise<MailAnswer>;
  close(): void;
}

/**
 * An SMTP mailer through nodemailer: `smtpUrl` as nodemailer reads it (smtp:// or smtps://, user and
 * password in the URL; STARTTLS is used when the server offers it), `from` the sender address.
 */
export function createMailer(smtpUrl: string, from: string, options: { timeoutMs?: number } = {}): Mailer {
  const timeout = options.timeoutMs ?? 30_000;
  const transport = nodemailer.createTransport(smtpUrl, {
    from,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  } as never);
  return {
    async send(message) {
      try {
        const info = (await transport.sendMail({
          to: message.to,
          subject: message.subject,
          text: message.text,
          ...(message.headers ? { headers: message.headers } : {}),
        })) as { response?: string; accepted?: unknown[] };
        return { status: replyCode(info.response) ?? 250, accepted: info.accepted?.length ?? 0 };
      } catch (error) {
        const err = error as { responseCode?: number; code?: string; message?: string };
        const status = typeof err.responseCode === 'number' ? err.responseCode : null;
        throw new MailError(
          status !== null ? `the mail server answered ${status}` : `could not send: ${err.code ?? 'connection failed'}`,
          status,
        );
      }
    },
    close: () => transport.close(),
  };
}

function replyCode(response: string | undefined): number | undefined {
  const match = /^(\d{3})\b/.exec(response ?? '');
  return match ? Number(match[1]) : undefined;
}
