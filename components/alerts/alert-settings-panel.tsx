'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card, DefinitionList } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';

const onOff = (b: boolean) => (b ? 'on' : 'off');

/** Admins: the configured channels and thresholds (from the config file's `alerts` key), and a test send. */
export function AlertSettingsPanel() {
  const trpc = useTRPC();
  const { data, error } = useQuery(trpc.alerts.settings.queryOptions());
  const test = useMutation(trpc.alerts.sendTest.mutationOptions());
  return (
    <Card title="Channels and thresholds" actions={<Button variant="secondary" onClick={() => test.mutate()} busy={test.isPending}>Send test alert</Button>}>
      <ErrorBox error={error ?? test.error} title="Alert settings" />
      {data && (
        <DefinitionList
          items={[
            ['Email', `${onOff(data.email.enabled)}${data.email.enabled ? ` — ${data.email.smtp_server}:${data.email.smtp_port} to ${data.email.recipients.join(', ')}` : ''}`],
            ['Slack', `${onOff(data.slack.enabled)}${data.slack.webhook_url ? ` — ${data.slack.webhook_url}${data.slack.channel ? ` ${data.slack.channel}` : ''}` : ''}`],
            ['Webhook', `${onOff(data.webhook.enabled)}${data.webhook.url ? ` — ${data.webhook.url}` : ''}`],
            ['Storage usage', `warning ${data.thresholds.storage_usage_warning}% · critical ${data.thresholds.storage_usage_critical}%`],
            ['Backup failure rate', `warning ${data.thresholds.backup_failure_rate_warning}% · critical ${data.thresholds.backup_failure_rate_critical}%`],
            ['Recovery time', `warning ${data.thresholds.recovery_time_warning} s · critical ${data.thresholds.recovery_time_critical} s`],
            ['Rolling verify', `every backup within ${data.rolling_verify_days} days`],
          ]}
        />
      )}
      <p className="mt-2 text-xs text-slate-500">Change these under the `alerts` key of the configuration file (PLEXICHAT_CONFIG) and restart.</p>
      {test.data && (
        <div className="mt-2">
          <Notice tone={test.data.every((d) => d.ok) ? 'green' : 'amber'}>
            {test.data.length ? test.data.map((d) => `${d.channel}: ${d.ok ? 'sent' : `failed (${d.error})`}`).join(' · ') : 'No channel is enabled.'}
          </Notice>
        </div>
      )}
    </Card>
  );
}
