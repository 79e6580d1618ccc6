'use client';
import type { ReactNode } from 'react';
import { Button } from './button';

/** "1–25 of 300" with Previous/Next, for every paginated list. */
export function Pager({
  offset,
  shown,
  total,
  pageSize,
  onChange,
  small = false,
  children,
}: {
  offset: number;
  shown: number;
  total: number;
  pageSize: number;
  onChange: (offset: number) => void;
  small?: boolean;
  children?: ReactNode;
}) {
  return (
    <div className={`flex items-center justify-between text-slate-600 ${small ? 'mt-2 text-xs' : 'mt-3 text-sm'}`}>
      <span>
        {offset + 1}–{offset + shown} of {total}
        {children}
      </span>
      <span className="flex gap-2">
        <Button variant="secondary" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - pageSize))}>
          Previous
        </Button>
        <Button variant="secondary" disabled={offset + shown >= total} onClick={() => onChange(offset + pageSize)}>
          Next
        </Button>
      </span>
    </div>
  );
}
