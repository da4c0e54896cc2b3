import test from 'node:test';
import assert from 'node:assert/strict';
import { parseContents } from '../../src/engine/archive-contents.ts';

const LISTING = `;
; Archive created at 2026-11-29 19:00:00 UTC
;     dbname: shop
;
7; 2615 16390 SCHEMA - sales postgres
2; 3079 16385 EXTENSION - citext 
3401; 0 0 COMMENT - EXTENSION citext 
215; 1259 16386 TABLE public customers postgres
216; 1259 16400 TABLE sales orders postgres
217; 1259 16410 TABLE Ünïcödé Ñandú ☃ postgres
218; 1259 16420 VIEW sales order_totals postgres
219; 1259 16399 SEQUENCE sales orders_id_seq postgres
3345; 0 16386 TABLE DATA public customers postgres
3346; 0 16400 TABLE DATA sales orders postgres
3410; 0 0 SEQUENCE SET sales orders_id_seq postgres
3200; 2613 16500 LARGE OBJECT - 16500 postgres
3300; 1259 16430 INDEX public customers_email_idx postgres
3310; 2606 16440 FK CONSTRAINT sales orders orders_customer_id_fkey postgres
`;

test('reads the objects of a pg_restore --list listing, with names that hold spaces and non-ASCII', () => {
  const { entries, truncated } = parseContents(LISTING);
  assert.equal(truncated, false);
  assert.deepEqual(entries, [
    { type: 'SCHEMA', schema: null, name: 'sales' },
    { type: 'EXTENSION', schema: null, name: 'citext' },
    { type: 'TABLE', schema: 'public', name: 'customers', hasData: true },
    { type: 'TABLE', schema: 'sales', name: 'orders', hasData: true },
    { type: 'TABLE', schema: 'Ünïcödé', name: 'Ñandú ☃', hasData: false },
    { type: 'VIEW', schema: 'sales', name: 'order_totals' },
    { type: 'SEQUENCE', schema: 'sales', name: 'orders_id_seq' },
    { type: 'LARGE OBJECT', schema: null, name: '16500' },
    { type: 'INDEX', schema: 'public', name: 'customers_email_idx' },
    { type: 'FK CONSTRAINT', schema: 'sales', name: 'orders orders_customer_id_fkey' },
  ]);
});

test('ignores comments, data entries and lines that are not entries', () => {
  assert.deepEqual(
    parseContents('; nothing\n\nnot an entry\n3345; 0 16386 TABLE DATA public t postgres\n').entries,
    [],
  );
});
