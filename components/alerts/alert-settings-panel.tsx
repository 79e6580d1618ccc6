'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { formatDate } from '../format';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card, DefinitionList } from '../ui/card';
import { useConfirm } from '../ui/confirm-dialog';
import { ErrorBox, Notice } from '../ui/feedback';
import { AlertSettingsForm } from './alert-settings-form';

const onOff = (b: boolean) => (b ? 'on' : 'off');
const fileText = (keys: string[]) => (keys.length ? `the configuration file's ${keys.join(' and ')} keys` : 'the built-in defaults (no configuration file sets alerts)');

/** Admins: the channels and thresholds in force, where they come from, editing, and a test send. */
export function AlertSettingsPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const { data, error } = useQuery(trpc.alerts.settings.queryOptions());
  const test = useMutation(trpc.alerts.sendTest.mutationOptions());
  const reset = useMutation(trpc.alerts.resetSettings.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.alerts.settings.queryKey() }) }));
  const fromConsole = data?.origin.source === 'console';
  const [dialog, confirm] = useConfirm();
  return (
    <Card
      title="Channels and thresholds"
      actions={
        !editing && (
          <>
            <Button variant="secondary" onClick={() => setEditing(true)} disabled={!data}>
              Edit alert settings
            </Button>
            <Button variant="secondary" onClick={() => test.mutate()} busy={test.isPending}>
              Send test alert
            </Button>
          </>
        )
      }
    >
      {dialog}
      <ErrorBox error={error ?? test.error ?? reset.error} title="Alert settings" />
      {data && editing && <AlertSettingsForm current={data} onDone={() => setEditing(false)} />}
      {data && !editing && (
        <>
          <DefinitionList
            items={[
              ['Email', `${onOff(data.email.enabled)}${data.email.enabled ? ` — ${data.email.smtp_server}:${data.email.smtp_port} to ${data.email.recipients.join(', ')}` : ''}`],
              ['Slack', `${onOff(data.slack.enabled)}${data.slack.webhook_url ? ` — ${data.slack.webhook_url}${data.slack.channel ? ` ${data.slack.channel}` : ''}` : ''}`],
              ['Webhook', `${onOff(data.webhook.enabled)}${data.webhook.url ? ` — ${data.webhook.url}` : ''}`],
              ['Storage usage', `warning ${data.thresholds.storage_usage_warning}% · critical ${data.thresholds.storage_usage_critical}%`],
              ['Backup failure rate', `warning ${data.thresholds.backup_failure_rate_warning}% · critical ${data.thresholds.backup_failure_rate_critical}%`],
              ['Recovery time', `warning ${data.thresholds.recovery_time_warning} s · critical ${data.thresholds.recovery_time_critical} s`],
              ['Restore drills', `warning when a drill's RTO exceeds ${data.thresholds.restore_time_objective_minutes} min`],
              ['Rolling verify', `every backup within ${data.rolling_verify_days} days`],
            ]}
          />
          <div className="mt-2 flex flex-wrap items-center gap-2 text-xs text-slate-500">
            <span data-testid="alert-settings-source">
              {fromConsole
                ? `Saved in the console by ${data.origin.updated_by} at ${formatDate(data.origin.updated_at)}; they replace ${fileText(data.origin.file_keys)}.`
                : data.origin.file_keys.length
                  ? `From the configuration file (${data.origin.file_keys.join(' and ')} keys). Saving here overrides it for every process of this installation.`
                  : 'Built-in defaults: no alert settings are saved in the console or set in a configuration file. Saving here applies them to every process of this installation.'}
            </span>
            {fromConsole && (
              <Button variant="ghost" busy={reset.isPending} onClick={async () => (await confirm({ title: 'Drop the settings saved in the console?', body: `The alert settings saved in the console are deleted; ${fileText(data.origin.file_keys)} apply again.`, confirmLabel: 'Drop console settings', tone: 'danger' })) && reset.mutate()}>
                {data.origin.file_keys.length ? 'Use the configuration file' : 'Use the defaults'}
              </Button>
            )}
          </div>
          {data.origin.error && (
            <div className="mt-2">
              <Notice tone="amber">The settings saved in the console are not in force: {data.origin.error}</Notice>
            </div>
          )}
        </>
      )}
      {test.data && (
        <div className="mt-2">
          <Notice tone={test.data.length && test.data.every((d) => d.ok) ? 'green' : 'amber'}>
            <span data-testid="alert-test-result">
              {test.data.length
                ? test.data.map((d) => `${d.channel}: ${d.ok ? 'sent' : `failed (${d.error})`}`).join(' · ')
                : 'Nothing was sent: no channel is enabled. Turn on email, Slack or a webhook with "Edit alert settings", then send a test.'}
            </span>
          </Notice>
        </div>
      )}
    </Card>
  );
}
