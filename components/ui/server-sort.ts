'use client';
import { useState } from 'react';
import type { ServerSort, TableSort } from './data-table';

/**
 * The sort of a paged list, sent with the page: a new sort starts again at page 1 (`resetPage`). `keys` are
 * the ones the procedure allows (typed against its input where used), so a column is sortable only if the
 * server can sort all rows by it.
 */
export function useServerSort<K extends string>(keys: readonly K[], initial: { key: K; dir: 'asc' | 'desc' } | null, resetPage: () => void) {
  const [sort, setSort] = useState(initial);
  const serverSort: ServerSort = {
    value: sort,
    keys,
    onChange: (s: TableSort) => {
      if (!keys.includes(s.key as K)) return;
      setSort({ key: s.key as K, dir: s.dir });
      resetPage();
    },
  };
  return { sort: sort ?? undefined, serverSort };
}
