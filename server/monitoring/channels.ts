/**
 * Alert channels: email (nodemailer over SMTP), Slack incoming webhook (Block Kit with a button) and a
 * generic JSON webhook. Each delivery is retried with backoff; a failure is logged and never thrown.
 */
import nodemailer from 'nodemailer';
import type { AlertSettings } from './alert-settings';

export interface AlertMessage {
  id: string;
  rule: string;
  subject_key: string;
  severity: 'warning' | 'critical';
  state: 'open' | 'acknowledged' | 'resolved';
  event: 'opened' | 'escalated' | 'resolved' | 'test';
  message: string;
  link: string;
  at: string;
}

export type ChannelName = 'email' | 'slack' | 'webhook';
export interface DeliveryResult {
  channel: ChannelName;
  ok: boolean;
  attempts: number;
  error?: string;
}

const title = (m: AlertMessage) => `[PlexiChat Backup] ${m.event === 'resolved' ? 'RESOLVED' : m.severity.toUpperCase()}: ${m.message}`;

async function postJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${url.replace(/\/[^/]*$/, '/…')} answered ${res.status}`);
}

export function slackBody(m: AlertMessage, channel?: string) {
  const emoji = m.event === 'resolved' ? ':white_check_mark:' : m.severity === 'critical' ? ':rotating_light:' : ':warning:';
  return {
    ...(channel ? { channel } : {}),
    text: title(m),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${m.event === 'resolved' ? 'Resolved' : m.severity === 'critical' ? 'Critical' : 'Warning'}: ${m.rule}` } },
      { type: 'section', text: { type: 'mrkdwn', text: `${emoji} ${m.message}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `alert ${m.id} · ${m.subject_key} · ${m.at}` }] },
      { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in console' }, url: m.link, action_id: 'open_alert' }] },
    ],
  };
}

function sendEmail(s: AlertSettings['email'], m: AlertMessage): Promise<unknown> {
  const transport = nodemailer.createTransport({
    host: s.smtp_server,
    port: s.smtp_port,
    secure: s.secure,
    ...(s.username ? { auth: { user: s.username, pass: s.password ?? '' } } : {}),
    connectionTimeout: 10_000,
  });
  return transport.sendMail({
    from: s.from,
    to: s.recipients.join(', '),
    subject: title(m),
    text: `${m.message}\n\nSeverity: ${m.severity}\nState: ${m.state}\nRule: ${m.rule} (${m.subject_key})\nTime: ${m.at}\n\nOpen: ${m.link}\n`,
    html: `<p>${escapeHtml(m.message)}</p><p>Severity: <b>${m.severity}</b> · state: ${m.state} · rule: ${escapeHtml(m.rule)}</p><p><a href="${escapeHtml(m.link)}">Open in the PlexiChat Backup console</a></p>`,
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

async function withRetry(attempts: number, backoffMs: number, fn: () => Promise<unknown>): Promise<{ attempts: number; error?: string }> {
  let last = '';
  for (let i = 1; i <= attempts; i++) {
    try {
      await fn();
      return { attempts: i };
    } catch (err) {
      last = (err as Error).message;
      if (i < attempts) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (i - 1)));
    }
  }
  return { attempts, error: last };
}

/** Sends to every enabled channel; never throws. */
export async function deliver(settings: AlertSettings, m: AlertMessage, log: (line: string) => void): Promise<DeliveryResult[]> {
  const jobs: [ChannelName, () => Promise<unknown>][] = [];
  if (settings.email.enabled) jobs.push(['email', () => sendEmail(settings.email, m)]);
  if (settings.slack.enabled && settings.slack.webhook_url) jobs.push(['slack', () => postJson(settings.slack.webhook_url!, slackBody(m, settings.slack.channel))]);
  if (settings.webhook.enabled && settings.webhook.url) jobs.push(['webhook', () => postJson(settings.webhook.url!, { alert: m })]);
  return Promise.all(
    jobs.map(async ([channel, fn]) => {
      const r = await withRetry(settings.delivery_attempts, settings.delivery_backoff_ms, fn);
      if (r.error) log(`alert ${m.id}: ${channel} delivery failed after ${r.attempts} attempt(s): ${r.error}`);
      return { channel, ok: !r.error, ...r };
    }),
  );
}
