import type { ReactNode } from 'react';

function value(v: unknown): ReactNode {
  if (v === null || v === undefined || v === '') return <span className="text-slate-400">—</span>;
  if (Array.isArray(v) && v.length === 0) return <span className="text-slate-400">none</span>;
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return v.join(', ');
  if (typeof v === 'object') return <FieldList fields={v as Record<string, unknown>} nested />;
  return String(v);
}

/**
 * Structured details (an audit event's, an alert's) as "key: value" lines that wrap, instead of raw JSON
 * clipped at the card's edge. Nested objects are indented lists.
 */
export function FieldList({ fields, nested = false, 'data-testid': testId }: { fields: Record<string, unknown>; nested?: boolean; 'data-testid'?: string }) {
  const entries = Object.entries(fields);
  if (!entries.length) return <span className="text-slate-400">—</span>;
  return (
    <dl className={`text-xs ${nested ? 'mt-0.5 border-l border-slate-200 pl-2' : ''}`} data-testid={testId}>
      {entries.map(([k, v]) => (
        <div key={k} className="flex flex-wrap gap-x-1.5 py-0.5">
          <dt className="font-medium text-slate-500">{k}:</dt>
          <dd className="min-w-0 break-words text-slate-800 [overflow-wrap:anywhere]">{value(v)}</dd>
        </div>
      ))}
    </dl>
  );
}
