'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type HTMLAttributes, useState } from 'react';
import { formatBytes } from '../format';
import { type RouterInputs, type RouterOutputs, useTRPC } from '../trpc/client';
import { type Column, DataTable } from '../ui/data-table';
import { Pager } from '../ui/pager';
import { useServerSort } from '../ui/server-sort';
import { Card } from '../ui/card';
import { ErrorBox, Loading } from '../ui/feedback';

const PAGE = 200;
const SORT_KEYS = ['shard', 'kind', 'size', 'stored', 'codec'] as const satisfies readonly NonNullable<RouterInputs['backup']['shardMap']['sort']>['key'][];
const CELL: Record<string, string> = { ok: 'bg-emerald-100 text-emerald-800', bad: 'bg-red-100 text-red-800', missing: 'bg-amber-100 text-amber-800' };

export function ShardMap({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const [offset, setOffset] = useState(0);
  // None: the server's default, shards with bad or missing replicas first.
  const { sort, serverSort } = useServerSort(SORT_KEYS, null, () => setOffset(0));
  const { data, error, isPending } = useQuery(trpc.backup.shardMap.queryOptions({ backupId, sort, limit: PAGE, offset }, { placeholderData: keepPreviousData }));
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
            <DataTable columns={shardColumns(data.locations)} rows={data.shards} rowKey={(sh) => sh.shard_id} serverSort={data.total > PAGE ? serverSort : undefined} rowProps={(sh) => ({ 'data-bad': sh.replicas.some((r) => r.state !== 'ok') || undefined }) as HTMLAttributes<HTMLTableRowElement>} data-testid="shard-map" />
          </div>
          {data.total > PAGE && (
            <Pager offset={offset} shown={data.shards.length} total={data.total} pageSize={PAGE} onChange={setOffset} small />
          )}
        </>
      ) : null}
    </Card>
  );
}

type Shard = RouterOutputs['backup']['shardMap']['shards'][number];

/** Shard, kind, sizes, codec, then one column per location with the replica (or erasure-coded piece) there and its state. */
function shardColumns(locations: string[]): Column<Shard>[] {
  return [
    { key: 'shard', header: 'Shard', sortValue: (s) => s.shard_id, className: 'max-w-[12rem] truncate font-mono text-xs', cell: (s) => <span title={s.shard_id}>{s.shard_id}</span> },
    { key: 'kind', header: 'Kind', sortValue: (s) => s.kind, cell: (s) => s.kind },
    { key: 'size', header: 'Size', align: 'right', sortValue: (s) => s.plain_size, cell: (s) => formatBytes(s.plain_size) },
    { key: 'stored', header: 'Stored', align: 'right', sortValue: (s) => s.stored_size, cell: (s) => formatBytes(s.stored_size) },
    { key: 'codec', header: 'Codec', sortValue: (s) => s.compression, className: 'font-mono text-xs', cell: (s) => s.compression },
    ...locations.map(
      (l): Column<Shard> => ({
        key: `loc:${l}`,
        header: l,
        sortValue: (s) => s.replicas.find((x) => x.location === l)?.state ?? null,
        cell: (s) => {
          const r = s.replicas.find((x) => x.location === l);
          if (!r) return <span className="text-slate-300">—</span>;
          // An erasure-coded shard holds one piece per location: which one, then its state.
          const piece = r.piece === null || !s.coding ? null : `piece ${r.piece + 1}/${s.coding.k + s.coding.m}${r.piece >= s.coding.k ? ' (parity)' : ''}`;
          return (
            <span className={`rounded px-1.5 py-0.5 text-xs ${CELL[r.state] ?? ''}`} title={piece ? `${piece} of a ${s.coding!.k}+${s.coding!.m} erasure-coded shard` : 'a whole copy'}>
              {piece ? `${piece} · ` : ''}
              {r.state}
            </span>
          );
        },
      }),
    ),
  ];
}
