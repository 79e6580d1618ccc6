'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { formatBytes, formatDate } from '../format';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { Card } from '../ui/card';
import { ErrorBox, Loading } from '../ui/feedback';
import { Input } from '../ui/form';
import { Pager } from '../ui/pager';

const PAGE = 50;

/** What a backup holds, from its manifest: search by path, page through, download a file (roles that may restore). */
export function BackupFiles({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const canDownload = useCan('backup.recover');
  const [typed, setTyped] = useState('');
  const [filter, setFilter] = useState('');
  const [offset, setOffset] = useState(0);
  useEffect(() => {
    const t = setTimeout(() => {
      setFilter(typed);
      setOffset(0);
    }, 300);
    return () => clearTimeout(t);
  }, [typed]);
  const { data, error, isPending } = useQuery(trpc.backup.files.queryOptions({ backupId, filter: filter || undefined, limit: PAGE, offset }, { placeholderData: keepPreviousData }));
  return (
    <Card title="Files" actions={<Input aria-label="Search files" value={typed} onChange={(e) => setTyped(e.target.value)} placeholder="Search by path" className="w-56" />}>
      <ErrorBox error={error} title="Could not read the file list" />
      {isPending && <Loading />}
      {data && (
        <>
          <table className="w-full text-left text-sm" data-testid="backup-files">
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1">Path</th>
                <th className="px-3 text-right">Size</th>
                <th className="px-3">Modified</th>
                {canDownload && <th />}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {data.entries.map((f) => (
                <tr key={f.path}>
                  <td className="break-all py-1 font-mono text-xs">
                    {f.path}
                    {f.type !== 'file' && <span className="ml-1 text-slate-400">({f.type})</span>}
                  </td>
                  <td className="whitespace-nowrap px-3 text-right tabular-nums">{f.type === 'file' ? formatBytes(f.size) : ''}</td>
                  <td className="whitespace-nowrap px-3 text-xs text-slate-500">{formatDate(f.mtime)}</td>
                  {canDownload && (
                    <td className="text-right">
                      {f.type === 'file' && (
                        <a className="text-indigo-700 hover:underline" href={`/api/backups/${encodeURIComponent(backupId)}/file?path=${encodeURIComponent(f.path)}`} download>
                          Download
                        </a>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          {data.total === 0 ? <p className="py-2 text-sm text-slate-500">No file matches.</p> : <Pager offset={offset} shown={data.entries.length} total={data.total} pageSize={PAGE} onChange={setOffset} small />}
        </>
      )}
    </Card>
  );
}
