/**
 * The parts of a TOC entry's `COPY <table> (<columns>) FROM stdin;` statement that a piece copies with:
 * the qualified table name and the column list, both exactly as pg_dump wrote them (quoted, since our
 * flags include `--quote-all-identifiers`). Parsed quote-aware: a name may hold spaces, dots, commas,
 * parentheses and doubled quotes.
 */
export interface CopyTarget {
  /** `"schema"."table"`, verbatim. */
  table: string;
  /** The columns inside the parentheses, verbatim (`"a", "b"`); empty when the statement lists none. */
  columns: string;
}

/** Parses `COPY <name> [(<columns>)] FROM stdin;`; throws on anything else. */
export function parseCopyStatement(statement: string): CopyTarget {
  const text = statement.trim();
  if (!text.startsWith('COPY ')) throw new Error(`not a COPY statement: ${text.slice(0, 80)}`);
  let i = 'COPY '.length;
  const start = i;
  // The qualified name: identifiers (quoted or bare) joined by dots.
  for (;;) {
    i = skipIdentifier(text, i);
    if (text[i] !== '.') break;
    i += 1;
  }
  const table = text.slice(start, i);
  if (table === '') throw new Error(`a COPY statement without a table: ${text.slice(0, 80)}`);
  while (text[i] === ' ') i += 1;
  let columns = '';
  if (text[i] === '(') {
    const open = i;
    i += 1;
    while (i < text.length && text[i] !== ')') {
      if (text[i] === '"') i = skipIdentifier(text, i);
      else i += 1;
    }
    if (text[i] !== ')') throw new Error(`an unterminated column list: ${text.slice(0, 80)}`);
    columns = text.slice(open + 1, i).trim();
    i += 1;
  }
  const rest = text.slice(i).trim();
  if (!/^FROM stdin;?$/i.test(rest)) throw new Error(`unexpected COPY statement ending: ${rest.slice(0, 80)}`);
  return { table, columns };
}

/** The index after the identifier starting at `i`: `"…"` with `""` inside, or a bare word. */
function skipIdentifier(text: string, i: number): number {
  if (text[i] === '"') {
    i += 1;
    for (;;) {
      if (i >= text.length) throw new Error(`an unterminated quoted identifier: ${text.slice(0, 80)}`);
      if (text[i] === '"') {
        if (text[i + 1] === '"') i += 2;
        else return i + 1;
      } else i += 1;
    }
  }
  while (i < text.length && /[^\s."(),;]/.test(text[i]!)) i += 1;
  return i;
}

/** The rows of a table piece, as pg_dump would copy them. */
export interface PieceQuery {
  /** The `COPY … TO stdout` statement the piece runs. */
  copy: string;
  /** For a ctid range, the SELECT inside it (to EXPLAIN); null for a whole table. */
  select: string | null;
}

/**
 * A whole table exactly as pg_dump's dumpTableData_copy copies it (`COPY <name> <columns> TO stdout`);
 * a range of heap blocks as a SELECT of the same columns from ONLY that table (inheritance children
 * have their own entries), bounded by ctid, which PostgreSQL 14+ runs as a TID range scan.
 */
export function pieceQuery(
  copyStatement: string,
  blocks: { fromBlock: number | null; toBlock: number | null } | null,
): PieceQuery {
  const { table, columns } = parseCopyStatement(copyStatement);
  if (blocks === null) return { copy: `COPY ${table} ${columns === '' ? '' : `(${columns}) `}TO stdout`, select: null };
  const bounds: string[] = [];
  if (blocks.fromBlock !== null) bounds.push(`ctid >= '(${wholeBlock(blocks.fromBlock)},0)'::pg_catalog.tid`);
  if (blocks.toBlock !== null) bounds.push(`ctid < '(${wholeBlock(blocks.toBlock)},0)'::pg_catalog.tid`);
  const where = bounds.length > 0 ? ` WHERE ${bounds.join(' AND ')}` : '';
  const select = `SELECT ${columns} FROM ONLY ${table}${where}`;
  return { copy: `COPY (${select}) TO stdout`, select };
}

function wholeBlock(block: number): number {
  if (!Number.isSafeInteger(block) || block < 0 || block > 0xffffffff)
    throw new RangeError(`block ${block} is out of range`);
  return block;
}
