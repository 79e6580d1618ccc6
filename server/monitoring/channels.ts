/**
 * Alert channels: email (nodemailer over SMTP), Slack incoming webhook (Block Kit with a button) and a
 * generic JSON webhook. Each delivery is retried with backoff; a failure is logged and never thrown.
 *
 * Every connection obeys the outbound network policy (config.outbound). Slack and webhooks never follow a
 * redirect (it could lead past the policy's check to another host), and a failure reports the status code,
 * never the body: whoever runs the receiving end must not be able to put text into our logs and console.
 */
import http from 'node:http';
import https from 'node:https';
import { guardedAgents } from '../engine/net/agents';
import { findOutboundDenial, OutboundPolicy } from '../engine/net/outbound-policy';
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

/** Scheme and host of a URL: the path of a Slack webhook is its secret, so errors never show it. */
const origin = (u: URL) => `${u.protocol}//${u.host}`;

function postJson(url: string, body: unknown, policy: OutboundPolicy): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new Error(`${origin(u)}: only http and https URLs can receive alerts`));
  const payload = Buffer.from(JSON.stringify(body));
  // A fresh agent without keep-alive: a delivery is rare, and no socket outlives it.
  const agents = guardedAgents(policy, { keepAlive: false });
  const request = u.protocol === 'https:' ? https.request : http.request;
  return new Promise<void>((resolve, reject) => {
    const req = request(
      u,
      {
        method: 'POST',
        agent: u.protocol === 'https:' ? agents.https : agents.http,
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
        signal: AbortSignal.timeout(10_000),
      },
      (res) => {
        // The body is read and dropped, never reported.
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else if (status >= 300 && status < 400) reject(new Error(`${origin(u)} answered ${status} (a redirect); redirects are not followed — configure the final URL of the receiver`));
        else reject(new Error(`${origin(u)} answered ${status}`));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => reject(err.name === 'AbortError' || err.name === 'TimeoutError' ? new Error(`${origin(u)} did not answer within 10 s`) : err));
    req.end(payload);
  });
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

async function sendEmail(s: AlertSettings['email'], m: AlertMessage, policy: OutboundPolicy): Promise<unknown> {
  // nodemailer resolves names itself; connect it to an address checked here instead, and keep the name for
  // TLS (SNI and the certificate check), so the server is still verified as the host configured.
  const [checked] = await policy.resolve(s.smtp_server);
  // Loaded when a mail is sent: every CLI command and worker would otherwise pay for it at start.
  const { default: nodemailer } = await import('nodemailer');
  const transport = nodemailer.createTransport({
    host: checked!.address,
    ...(checked!.address !== s.smtp_server ? { servername: s.smtp_server } : {}),
    port: s.smtp_port,
    secure: s.secure,
    ...(s.username ? { auth: { user: s.username, pass: s.password ?? '' } } : {}),
    connectionTimeout: 10_000,
  });
  try {
    return await transport.sendMail({
      from: s.from,
      to: s.recipients.join(', '),
      subject: title(m),
      text: `${m.message}\n\nSeverity: ${m.severity}\nState: ${m.state}\nRule: ${m.rule} (${m.subject_key})\nTime: ${m.at}\n\nOpen: ${m.link}\n`,
    html: `<p>${escapeHtml(m.message)}</p><p>Severity: <b>${m.severity}</b> · state: ${m.state} · rule: ${escapeHtml(m.rule)}</p><p><a href="${escapeHtml(m.link)}">Open in the PlexiChat Backup console</a></p>`,
    });
  } catch (err) {
    throw smtpError(err, `${s.smtp_server}:${s.smtp_port}`);
  } finally {
    transport.close();
  }
}

/** nodemailer puts the server's reply text in its messages; keep the reply code and the command only. */
function smtpError(err: unknown, server: string): Error {
  const e = err as { code?: unknown; command?: unknown; responseCode?: unknown; response?: unknown; message?: string };
  if (e.response === undefined && e.responseCode === undefined) return err as Error;
  const reply = typeof e.responseCode === 'number' ? `SMTP ${e.responseCode}` : 'an unexpected reply';
  const during = typeof e.command === 'string' && /^[A-Z ]{2,20}$/.test(e.command) ? ` to ${e.command}` : '';
  const code = typeof e.code === 'string' && /^E[A-Z]{2,20}$/.test(e.code) ? ` (${e.code})` : '';
  return new Error(`${server} answered ${reply}${during}${code}; check the SMTP settings and the server's log`);
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
      // A refusal by the outbound policy will not change on the next attempt.
      if (findOutboundDenial(err)) return { attempts: i, error: last };
      if (i < attempts) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (i - 1)));
    }
  }
  return { attempts, error: last };
}

/** Sends to every enabled channel under the outbound policy (default: the default denied networks); never throws. */
export async function deliver(settings: AlertSettings, m: AlertMessage, log: (line: string) => void, policy: OutboundPolicy = OutboundPolicy.for()): Promise<DeliveryResult[]> {
  const jobs: [ChannelName, () => Promise<unknown>][] = [];
  if (settings.email.enabled) jobs.push(['email', () => sendEmail(settings.email, m, policy)]);
  if (settings.slack.enabled && settings.slack.webhook_url) jobs.push(['slack', () => postJson(settings.slack.webhook_url!, slackBody(m, settings.slack.channel), policy)]);
  if (settings.webhook.enabled && settings.webhook.url) jobs.push(['webhook', () => postJson(settings.webhook.url!, { alert: m }, policy)]);
  return Promise.all(
    jobs.map(async ([channel, fn]) => {
      const r = await withRetry(settings.delivery_attempts, settings.delivery_backoff_ms, fn);
      if (r.error) log(`alert ${m.id}: ${channel} delivery failed after ${r.attempts} attempt(s): ${r.error}`);
      return { channel, ok: !r.error, ...r };
    }),
  );
}
