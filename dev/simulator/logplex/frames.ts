/**
 * Reads a Logplex input body the way Logplex does: octet-counted (RFC 6587) RFC 5424 messages. Written
 * here, not imported from the provider, so the simulator checks our frames against its own reading.
 */

/** One message read back. */
export interface ParsedFrame {
  priority: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  message: string;
}

/** Splits an octet-counted body into messages; throws on a length that does not match its message. */
export function parseLogplexBody(body: string): ParsedFrame[] {
  const bytes = Buffer.from(body, 'utf8');
  const frames: ParsedFrame[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const space = bytes.indexOf(0x20, offset);
    if (space < 0) throw new Error('a frame has no length prefix');
    const lengthText = bytes.subarray(offset, space).toString('ascii');
    if (!/^[1-9][0-9]{0,5}$/.test(lengthText)) throw new Error(`bad frame length "${lengthText}"`);
    const end = space + 1 + Number(lengthText);
    if (end > bytes.length) throw new Error('a frame is shorter than its length says');
    frames.push(parsePacket(bytes.subarray(space + 1, end).toString('utf8')));
    offset = end;
  }
  if (frames.length === 0) throw new Error('the body has no frames');
  return frames;
}

function parsePacket(packet: string): ParsedFrame {
  const match = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) ?(.*)$/s.exec(packet);
  if (!match) throw new Error(`not an RFC 5424 message: ${packet.slice(0, 80)}`);
  return {
    priority: Number(match[1]),
    version: Number(match[2]),
    timestamp: match[3]!,
    hostname: match[4]!,
    appName: match[5]!,
    procId: match[6]!,
    msgId: match[7]!,
    structuredData: match[8]!,
    message: match[9]!,
  };
}
