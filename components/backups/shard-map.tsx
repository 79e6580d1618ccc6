'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { formatBytes } from '../format';
import { useTRPC } from '../trpc/client';
import { Pager } from '../ui/pager';
import { Card } from '../ui/card';
import { ErrorBox, Loading } from '../ui/feedback';

const PAGE = 200;
const CELL: Record<string, string> = { ok: 'bg-emerald-100 text-emerald-800', bad: 'bg-red-100 text-red-800', missing: 'bg-amber-100 text-amber-800' };

export function ShardMap({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const [offset, setOffset] = useState(0);
  const { data, error, isPending } = useQuery(trpc.backup.shardMap.queryOptions({ backupId, limit: PAGE, offset }, { placeholderData: keepPreviousData }));
  return (
    <Card title="Shard map" actions={data ? <span className="text-xs text-slate-500">{data.total} shards · {data.bad ? <span className="font-medium text-red-700">{data.bad} with bad or missing replicas</span> : 'all replicas ok'}</span> : null}>
      <ErrorBox error={error} title="Could not load the shard map" />
      {isPending ? (
        <Loading />
      ) : data && data.total === 0 ? (
        <p className="text-sm text-slate-500">This backup has no shards (yet).</p>
      ) : data ? (
        <>
          <div className="max-h-[28rem] overflow-auto">
            <table className="w-full text-left text-xs">
              <thead className="sticky top-0 bg-white text-slate-500">
                <tr>
                  <th className="py-1.5 pr-3 font-medium">Shard</th>
                  <th className="py-1.5 pr-3 font-medium">Kind</th>
                  <th className="py-1.5 pr-3 text-right font-medium">Size</th>
                  <th className="py-1.5 pr-3 text-right font-medium">Stored</th>
                  <th className="py-1.5 pr-3 font-medium">Codec</th>
                  {data.locations.map((l) => (
                    <th key={l} className="py-1.5 pr-3 font-medium">
                      {l}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100 font-mono">
                {data.shards.map((s) => (
                  <tr key={s.shard_id} data-bad={s.replicas.some((r) => r.state !== 'ok') || undefined}>
                    <td className="max-w-[12rem] truncate py-1 pr-3" title={s.shard_id}>
                      {s.shard_id}
                    </td>
                    <td className="py-1 pr-3 font-sans">{s.kind}</td>
                    <td className="py-1 pr-3 text-right">{formatBytes(s.plain_size)}</td>
                    <td className="py-1 pr-3 text-right">{formatBytes(s.stored_size)}</td>
                    <td className="py-1 pr-3">{s.compression}</td>
                    {data.locations.map((l) => {
                      const r = s.replicas.find((x) => x.location === l);
                      return (
                        <td key={l} className="py-1 pr-3 font-sans">
                          {r ? <span className={`rounded px-1.5 py-0.5 ${CELL[r.state] ?? ''}`}>{r.state}</span> : <span className="text-slate-300">—</span>}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {data.total > PAGE && (
            <Pager offset={offset} shown={data.shards.length} total={data.total} pageSize={PAGE} onChange={setOffset} small />
          )}
        </>
      ) : null}
    </Card>
  );
}
