'use client';
import { type HTMLAttributes, type ReactNode, useMemo, useState } from 'react';

export type SortValue = string | number | null | undefined;

export interface Column<T> {
  /** Unique within the table; also the sort key. */
  key: string;
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** Makes the column sortable by this value (numbers compare as numbers, strings by locale; empty last). */
  sortValue?: (row: T) => SortValue;
  /** Numbers are right-aligned with tabular digits, so their places line up. */
  align?: 'left' | 'right';
  /** Extra classes for the header and the cells, e.g. "hidden md:table-cell". */
  className?: string;
}

export interface TableSort {
  key: string;
  dir: 'asc' | 'desc';
}

/** A paged list sorted by the server: the sort it asked for, the keys the server allows, and how to ask for another. */
export interface ServerSort {
  /** None: the server's default order, which no column shows. */
  value: TableSort | null;
  keys: readonly string[];
  onChange: (sort: TableSort) => void;
}

export interface DataTableProps<T> {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  /** The initial sort; none keeps the order the server gave. */
  initialSort?: { key: string; dir: 'asc' | 'desc' };
  /** What an empty table says (a sentence or an EmptyState). */
  empty?: ReactNode;
  /** Extra attributes for a row (data-testid, className). */
  rowProps?: (row: T) => HTMLAttributes<HTMLTableRowElement> & { 'data-testid'?: string };
  'data-testid'?: string;
  /** A caption for screen readers. */
  label?: string;
  /**
   * For a paged list: the server sorts (every row, not the page shown), the rows are shown in its order,
   * and a column is sortable when its key is one of `keys`. Without it the table sorts the rows it has.
   */
  serverSort?: ServerSort;
}

function compare(a: SortValue, b: SortValue): number {
  const ea = a === null || a === undefined || a === '';
  const eb = b === null || b === undefined || b === '';
  if (ea || eb) return ea === eb ? 0 : ea ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * The console's one table: a header row, optional sorting by a column (click its header; aria-sort says
 * which), right-aligned numeric columns, horizontal scroll on narrow screens. A paged list passes
 * `serverSort`, so a click sorts every row on the server, not just the page shown.
 */
export function DataTable<T>({ columns, rows, rowKey, initialSort, empty, rowProps, label, serverSort, ...rest }: DataTableProps<T>) {
  const [localSort, setLocalSort] = useState<TableSort | null>(initialSort ?? null);
  const sort = serverSort ? serverSort.value : localSort;
  const byServer = Boolean(serverSort);
  const sorted = useMemo(() => {
    if (!localSort || byServer) return rows;
    const sort = localSort;
    const col = columns.find((c) => c.key === sort.key);
    if (!col?.sortValue) return rows;
    const value = col.sortValue;
    const sign = sort.dir === 'asc' ? 1 : -1;
    // Empty values stay last in both directions.
    return [...rows].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      const c = compare(va, vb);
      const emptyInvolved = va === null || va === undefined || va === '' || vb === null || vb === undefined || vb === '';
      return emptyInvolved ? c : sign * c;
    });
  }, [rows, columns, localSort, byServer]);

  if (!rows.length && empty) return <>{empty}</>;
  const next = (key: string, s: TableSort | null): TableSort => (s?.key === key ? { key, dir: s.dir === 'asc' ? 'desc' : 'asc' } : { key, dir: 'asc' });
  const toggle = (key: string) => (serverSort ? serverSort.onChange(next(key, serverSort.value)) : setLocalSort((s) => next(key, s)));
  const sortable = (c: Column<T>) => (serverSort ? serverSort.keys.includes(c.key) : Boolean(c.sortValue));
  const alignCls = (c: Column<T>) => (c.align === 'right' ? 'text-right tabular-nums' : 'text-left');
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-sm" data-testid={rest['data-testid']}>
        {label && <caption className="sr-only">{label}</caption>}
        <thead className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
          <tr>
            {columns.map((c) => {
              const active = sort?.key === c.key;
              return (
                <th
                  key={c.key}
                  scope="col"
                  aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined}
                  className={`py-2 pr-3 font-medium last:pr-0 ${alignCls(c)} ${c.className ?? ''}`}
                >
                  {sortable(c) ? (
                    <button type="button" onClick={() => toggle(c.key)} className={`inline-flex items-center gap-1 uppercase hover:text-slate-800 ${c.align === 'right' ? 'flex-row-reverse' : ''}`}>
                      {c.header}
                      <span aria-hidden className={active ? 'text-slate-700' : 'text-slate-300'}>
                        {active && sort.dir === 'desc' ? '▼' : '▲'}
                      </span>
                    </button>
                  ) : (
                    c.header
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {sorted.length === 0 ? (
            <tr>
              <td colSpan={columns.length} className="py-4 text-center text-slate-500">
                Nothing to show.
              </td>
            </tr>
          ) : (
            sorted.map((r) => (
              <tr key={rowKey(r)} {...rowProps?.(r)}>
                {columns.map((c) => (
                  <td key={c.key} className={`py-2 pr-3 align-top last:pr-0 ${alignCls(c)} ${c.className ?? ''}`}>
                    {c.cell(r)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
