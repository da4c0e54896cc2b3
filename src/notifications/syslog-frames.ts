/**
 * Lines for an app's log stream, as Heroku's "Writing to Application Logs as an Add-on Partner" asks:
 * RFC 5424 syslog messages, each prefixed with its length in bytes (octet counting, RFC 6587), posted
 * as `application/logplex-1`. `heroku logs` then shows `app[big-backup]: <message>` among the app's lines.
 */

/** One log line: when it happened and what it says (one line; newlines are flattened). */
export interface LogLine {
  at: Date;
  message: string;
}

/** local7.info, as Heroku's example uses. */
const PRIORITY = 190;

/** RFC 5424 header fields: hostname is the log token, app name `app`, process id the add-on's name. */
export interface FrameOrigin {
  token: string;
  procId: string;
}

/** One octet-counted frame: `<bytes> <190>1 <time> <token> app <procid> - - <message>`. */
export function syslogFrame(line: LogLine, origin: FrameOrigin): string {
  const message = line.message.replace(/[\r\n]+/g, ' ').slice(0, 10_000);
  const packet = `<${PRIORITY}>1 ${line.at.toISOString()} ${field(origin.token)} app ${field(origin.procId)} - - ${message}`;
  return `${Buffer.byteLength(packet, 'utf8')} ${packet}`;
}

/** A request body of frames, and the count Logplex-Msg-Count reports. */
export function logplexBody(lines: LogLine[], origin: FrameOrigin): { body: string; count: number } {
  return { body: lines.map((line) => syslogFrame(line, origin)).join(''), count: lines.length };
}

/** A syslog header field: printable ASCII without spaces, at most 48 characters (RFC 5424 caps). */
function field(value: string): string {
  return value.replace(/[^\x21-\x7e]/g, '').slice(0, 48) || '-';
}
