import { LARGE_OBJECTS, type DatabaseFingerprint, type SchemaObjectKind } from './database-fingerprint.ts';

/** One way the restored database differs from the reference. */
export interface DrillDifference {
  /** The table, sequence or object it concerns (`schema.name`), or the object kind for a list difference. */
  table: string;
  kind:
    | 'missing_table'
    | 'extra_table'
    | 'row_count'
    | 'content'
    | 'sequence'
    | `missing_${SchemaObjectKind}`
    | `extra_${SchemaObjectKind}`;
  detail: string;
}

export interface DrillComparison {
  /** Tables of the reference database compared (large objects are compared too, but not counted here). */
  tablesCompared: number;
  /** Of those, tables whose row count and content checksum are equal in the restored database. */
  tablesEqual: number;
  differences: DrillDifference[];
}

/** Compares a restored database's fingerprint with its reference's. Pure; differences in a stable order. */
export function compareFingerprints(reference: DatabaseFingerprint, restored: DatabaseFingerprint): DrillComparison {
  const differences: DrillDifference[] = [];
  let tablesEqual = 0;
  for (const [table, want] of [...reference.tables].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const got = restored.tables.get(table);
    if (!got) {
      differences.push({ table, kind: 'missing_table', detail: `not in the restored database (${want.rows} rows)` });
    } else if (got.rows !== want.rows) {
      differences.push({ table, kind: 'row_count', detail: `${want.rows} rows in the fork, ${got.rows} restored` });
    } else if (got.checksum !== want.checksum) {
      differences.push({
        table,
        kind: 'content',
        detail: `${want.rows} rows on both sides, but their contents differ`,
      });
    } else if (table !== LARGE_OBJECTS) {
      tablesEqual++;
    }
  }
  for (const table of [...restored.tables.keys()].sort()) {
    if (!reference.tables.has(table)) {
      differences.push({ table, kind: 'extra_table', detail: 'in the restored database only' });
    }
  }
  for (const [sequence, want] of [...reference.sequences].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const got = restored.sequences.get(sequence);
    if (got !== want) {
      differences.push({
        table: sequence,
        kind: 'sequence',
        detail: got === undefined ? 'sequence not restored' : `last value ${want} in the fork, ${got} restored`,
      });
    }
  }
  for (const kind of Object.keys(reference.objects) as SchemaObjectKind[]) {
    const want = new Set(reference.objects[kind]);
    const got = new Set(restored.objects[kind]);
    for (const name of want) {
      if (!got.has(name)) differences.push({ table: kind, kind: `missing_${kind}`, detail: name });
    }
    for (const name of got) {
      if (!want.has(name)) differences.push({ table: kind, kind: `extra_${kind}`, detail: name });
    }
  }
  // Large objects are compared like a table (a difference fails the drill) but not counted as one.
  const tablesCompared = reference.tables.size - (reference.tables.has(LARGE_OBJECTS) ? 1 : 0);
  return { tablesCompared, tablesEqual, differences };
}
