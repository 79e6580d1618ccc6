'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { formatDate } from '../format';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { Button, ButtonLink } from '../ui/button';
import { Card, DefinitionList, PageHeader } from '../ui/card';
import { ErrorBox, Loading } from '../ui/feedback';
import { FieldList } from '../ui/field-list';
import { AlertStateBadge, SeverityBadge } from './alert-badges';

/** The page an alert's link points to (/alerts/<id>). */
export function AlertDetail({ alertId }: { alertId: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canAck = useCan('alerts.acknowledge');
  const { data, error, isPending } = useQuery(trpc.alerts.get.queryOptions({ alertId }, { refetchInterval: 10_000 }));
  const ack = useMutation(trpc.alerts.acknowledge.mutationOptions({ onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.alerts.get.queryKey({ alertId }) }) }));
  if (isPending) return <Loading />;
  if (!data) return <ErrorBox error={error} title="Could not load the alert" />;
  const own = new URL(data.link).pathname;
  return (
    <div className="space-y-4">
      <PageHeader
        title={data.message}
        subtitle={
          <span className="flex gap-2">
            <SeverityBadge severity={data.severity} /> <AlertStateBadge state={data.state} />
          </span>
        }
        actions={
          <span className="flex gap-2">
            {own !== `/alerts/${data.id}` && <ButtonLink href={own} variant="secondary">Open {own.split('/')[1]?.replace(/s$/, '')}</ButtonLink>}
            {canAck && data.state === 'open' && (
              <Button onClick={() => ack.mutate({ alertId })} busy={ack.isPending}>
                Acknowledge
              </Button>
            )}
          </span>
        }
      />
      <ErrorBox error={ack.error} title="Could not acknowledge" />
      <Card>
        <DefinitionList
          items={[
            ['Rule', data.rule],
            ['Subject', <code key="s">{data.subject_key}</code>],
            ['Opened', formatDate(data.opened_at)],
            ['Last seen', formatDate(data.last_seen_at)],
            ['Acknowledged', data.acknowledged_at ? `${formatDate(data.acknowledged_at)} by ${data.acknowledged_by ?? '?'}` : '—'],
            ['Resolved', data.resolved_at ? formatDate(data.resolved_at) : '—'],
          ]}
        />
      </Card>
      {Object.keys(data.details).length > 0 && (
        <Card title="Details">
          <FieldList fields={data.details} data-testid="alert-details" />
        </Card>
      )}
    </div>
  );
}
