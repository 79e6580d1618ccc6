'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, type ReactNode, useState } from 'react';
import type { AlertSettingsView } from '../../server/trpc/routers/alerts/api';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { ErrorBox } from '../ui/feedback';
import { Field, Input } from '../ui/form';
import { THRESHOLDS, type ThresholdKey, withFormLabels } from './setting-labels';

function Section({ title, enabled, onToggle, children }: { title: string; enabled: boolean; onToggle: (on: boolean) => void; children: ReactNode }) {
  return (
    <fieldset className="rounded-md border border-slate-200 p-3">
      <legend className="px-1 text-sm font-semibold text-slate-800">
        <label className="flex items-center gap-2">
          <input type="checkbox" checked={enabled} onChange={(e) => onToggle(e.target.checked)} />
          {title}
        </label>
      </legend>
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2">{children}</div>
    </fieldset>
  );
}

/** Secrets are write-only: the field starts empty, "leave empty to keep" the stored one. */
const secretHint = (stored: string | null) => (stored ? `Stored: ${stored} — leave empty to keep it` : 'None stored');

/** Edits channels and thresholds (admins). What is saved applies to every process within seconds. */
export function AlertSettingsForm({ current, onDone }: { current: AlertSettingsView; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState({ ...current.email, smtp_port: String(current.email.smtp_port), username: current.email.username ?? '', password: '', recipients: current.email.recipients.join(', ') });
  const [slack, setSlack] = useState({ enabled: current.slack.enabled, webhook_url: '', channel: current.slack.channel ?? '' });
  const [webhook, setWebhook] = useState({ enabled: current.webhook.enabled, url: '' });
  const [thresholds, setThresholds] = useState<Record<ThresholdKey, string>>(() => Object.fromEntries(THRESHOLDS.map(([k]) => [k, String(current.thresholds[k])])) as Record<ThresholdKey, string>);
  const [rollingDays, setRollingDays] = useState(String(current.rolling_verify_days));
  const save = useMutation(
    trpc.alerts.updateSettings.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.alerts.settings.queryKey() });
        onDone();
      },
    }),
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({
      email: {
        enabled: email.enabled,
        smtp_server: email.smtp_server,
        smtp_port: Number(email.smtp_port),
        secure: email.secure,
        username: email.username,
        ...(email.password ? { password: email.password } : {}),
        from: email.from,
        recipients: email.recipients.split(/[\s,;]+/).filter(Boolean),
      },
      slack: { enabled: slack.enabled, channel: slack.channel, ...(slack.webhook_url ? { webhook_url: slack.webhook_url } : {}) },
      webhook: { enabled: webhook.enabled, ...(webhook.url ? { url: webhook.url } : {}) },
      thresholds: Object.fromEntries(THRESHOLDS.map(([k]) => [k, Number(thresholds[k])])),
      rolling_verify_days: Number(rollingDays),
    });
  };

  return (
    <form onSubmit={submit} className="space-y-4" aria-label="Alert settings">
      <Section title="Email (SMTP)" enabled={email.enabled} onToggle={(enabled) => setEmail({ ...email, enabled })}>
        <Field label="SMTP server">
          <Input value={email.smtp_server} onChange={(e) => setEmail({ ...email, smtp_server: e.target.value })} />
        </Field>
        <Field label="SMTP port">
          <Input type="number" min={1} max={65535} value={email.smtp_port} onChange={(e) => setEmail({ ...email, smtp_port: e.target.value })} />
        </Field>
        <Field label="SMTP username" hint="Empty: no authentication">
          <Input autoComplete="off" value={email.username} onChange={(e) => setEmail({ ...email, username: e.target.value })} />
        </Field>
        <Field label="SMTP password" hint={secretHint(current.email.password)}>
          <Input type="password" autoComplete="new-password" value={email.password} onChange={(e) => setEmail({ ...email, password: e.target.value })} />
        </Field>
        <Field label="From address">
          <Input value={email.from} onChange={(e) => setEmail({ ...email, from: e.target.value })} />
        </Field>
        <Field label="Recipients" hint="Separated by commas">
          <Input value={email.recipients} onChange={(e) => setEmail({ ...email, recipients: e.target.value })} placeholder="ops@example.com" />
        </Field>
        <label className="flex items-center gap-2 text-sm text-slate-700">
          <input type="checkbox" checked={email.secure} onChange={(e) => setEmail({ ...email, secure: e.target.checked })} />
          TLS from the start (port 465); otherwise STARTTLS when offered
        </label>
      </Section>

      <Section title="Slack" enabled={slack.enabled} onToggle={(enabled) => setSlack({ ...slack, enabled })}>
        <Field label="Slack webhook URL" hint={secretHint(current.slack.webhook_url)}>
          <Input type="password" autoComplete="off" value={slack.webhook_url} onChange={(e) => setSlack({ ...slack, webhook_url: e.target.value })} placeholder="https://hooks.slack.com/services/…" />
        </Field>
        <Field label="Slack channel" hint="Optional; the webhook's own channel otherwise">
          <Input value={slack.channel} onChange={(e) => setSlack({ ...slack, channel: e.target.value })} placeholder="#backup-alerts" />
        </Field>
      </Section>

      <Section title="Webhook (JSON)" enabled={webhook.enabled} onToggle={(enabled) => setWebhook({ ...webhook, enabled })}>
        <Field label="Webhook URL" hint={secretHint(current.webhook.url)}>
          <Input type="password" autoComplete="off" value={webhook.url} onChange={(e) => setWebhook({ ...webhook, url: e.target.value })} placeholder="https://…" />
        </Field>
      </Section>

      <fieldset className="rounded-md border border-slate-200 p-3">
        <legend className="px-1 text-sm font-semibold text-slate-800">Thresholds</legend>
        <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3">
          {THRESHOLDS.map(([k, label]) => (
            <Field key={k} label={label}>
              <Input type="number" min={0} step="any" value={thresholds[k]} onChange={(e) => setThresholds({ ...thresholds, [k]: e.target.value })} />
            </Field>
          ))}
          <Field label="Re-verify every backup within (days)">
            <Input type="number" min={1} step="any" value={rollingDays} onChange={(e) => setRollingDays(e.target.value)} />
          </Field>
        </div>
      </fieldset>

      <ErrorBox error={save.error ? withFormLabels(save.error.message) : null} title="The alert settings were not saved" />
      <div className="flex gap-2">
        <Button type="submit" busy={save.isPending}>
          Save alert settings
        </Button>
        <Button variant="ghost" onClick={onDone}>
          Cancel
        </Button>
      </div>
    </form>
  );
}
