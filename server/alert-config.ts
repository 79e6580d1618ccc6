/**
 * Alert settings from the config file's `alerts` key (and the older top-level `alert_thresholds`),
 * validated here: channels (email, Slack, generic webhook), thresholds and the rolling-verify period.
 */
import * as z from 'zod';
import { ConfigError } from './config-error';

interface Config {
  alerts?: Record<string, unknown>;
  alert_thresholds?: Record<string, number>;
}

export const DEFAULT_THRESHOLDS = {
  storage_usage_warning: 80,
  storage_usage_critical: 90,
  backup_failure_rate_warning: 5,
  backup_failure_rate_critical: 10,
  recovery_time_warning: 1800,
  recovery_time_critical: 3600,
  /** A restore drill whose measured RTO exceeds this raises a warning. */
  restore_time_objective_minutes: 240,
} as const;

const pct = z.number().min(0).max(100);

/** The spec's threshold names (`alert_thresholds: { storage_usage: 85, failed_backup_rate: 5, recovery_time: 3600 }`), mapped to ours. */
const SPEC_THRESHOLD_NAMES = { storage_usage: 'storage_usage_warning', failed_backup_rate: 'backup_failure_rate_warning', recovery_time: 'recovery_time_critical' } as const;

function withSpecThresholdNames(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const [spec, ours] of Object.entries(SPEC_THRESHOLD_NAMES)) {
    if (!(spec in out)) continue;
    if (!(ours in raw)) out[ours] = out[spec];
    delete out[spec];
  }
  // A spec-style warning above our default critical level raises the critical level with it.
  const w = out.storage_usage_warning, f = out.backup_failure_rate_warning;
  if ('storage_usage' in raw && !('storage_usage_critical' in raw) && typeof w === 'number') out.storage_usage_critical = Math.max(w, DEFAULT_THRESHOLDS.storage_usage_critical);
  if ('failed_backup_rate' in raw && !('backup_failure_rate_critical' in raw) && typeof f === 'number') out.backup_failure_rate_critical = Math.max(f, DEFAULT_THRESHOLDS.backup_failure_rate_critical);
  const r = out.recovery_time_critical;
  if ('recovery_time' in raw && !('recovery_time_warning' in raw) && typeof r === 'number') out.recovery_time_warning = Math.min(r, DEFAULT_THRESHOLDS.recovery_time_warning);
  return out;
}

const thresholdsSchema = z
  .strictObject({
    storage_usage_warning: pct.default(DEFAULT_THRESHOLDS.storage_usage_warning),
    storage_usage_critical: pct.default(DEFAULT_THRESHOLDS.storage_usage_critical),
    backup_failure_rate_warning: pct.default(DEFAULT_THRESHOLDS.backup_failure_rate_warning),
    backup_failure_rate_critical: pct.default(DEFAULT_THRESHOLDS.backup_failure_rate_critical),
    recovery_time_warning: z.number().positive().default(DEFAULT_THRESHOLDS.recovery_time_warning),
    recovery_time_critical: z.number().positive().default(DEFAULT_THRESHOLDS.recovery_time_critical),
    restore_time_objective_minutes: z.number().positive().default(DEFAULT_THRESHOLDS.restore_time_objective_minutes),
  })
  .refine((t) => t.storage_usage_warning <= t.storage_usage_critical, { error: 'storage_usage_warning must not exceed storage_usage_critical' })
  .refine((t) => t.backup_failure_rate_warning <= t.backup_failure_rate_critical, { error: 'backup_failure_rate_warning must not exceed backup_failure_rate_critical' });

const emailSchema = z.strictObject({
  enabled: z.boolean().default(false),
  smtp_server: z.string().min(1).default('localhost'),
  smtp_port: z.number().int().min(1).max(65535).default(587),
  secure: z.boolean().default(false),
  username: z.string().optional(),
  password: z.string().optional(),
  from: z.string().min(1).default('plexichat-backup@localhost'),
  recipients: z.array(z.string().min(3)).default([]),
});

const slackSchema = z.strictObject({
  enabled: z.boolean().default(false),
  webhook_url: z.string().url().optional(),
  channel: z.string().optional(),
});

const webhookSchema = z.strictObject({ enabled: z.boolean().default(false), url: z.string().url().optional() });

const settingsSchema = z.strictObject({
  email: emailSchema.default(emailSchema.parse({})),
  slack: slackSchema.default(slackSchema.parse({})),
  webhook: webhookSchema.default(webhookSchema.parse({})),
  thresholds: z.record(z.string(), z.unknown()).default({}),
  /** Every completed backup is re-verified at least once in this many days (rolling verify). */
  rolling_verify_days: z.number().positive().default(7),
  /** Recent-backup window for the failure rate, hours. */
  failure_rate_window_hours: z.number().positive().default(24),
  /** A schedule whose due run has not started this long after its due time counts as missed. */
  schedule_missed_after_seconds: z.number().positive().default(900),
  /** Attempts per channel (with backoff) before a delivery is given up and logged. */
  delivery_attempts: z.number().int().min(1).max(10).default(3),
  delivery_backoff_ms: z.number().min(0).max(60_000).default(500),
});

export type AlertSettings = Omit<z.infer<typeof settingsSchema>, 'thresholds'> & { thresholds: z.infer<typeof thresholdsSchema> };
export type Thresholds = z.infer<typeof thresholdsSchema>;

function issues(prefix: string, err: z.ZodError): string {
  return err.issues
    .map((i) => (i.code === 'unrecognized_keys' ? `${[prefix, ...i.path].join('.')} has unknown setting(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : `${[prefix, ...i.path].join('.')} ${i.message}`))
    .join('; ');
}

export function alertSettings(config: Pick<Config, 'alerts' | 'alert_thresholds'>): AlertSettings {
  const parsed = settingsSchema.safeParse(config.alerts ?? {});
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${issues('alerts', parsed.error)}`);
  const t = thresholdsSchema.safeParse(withSpecThresholdNames({ ...(config.alert_thresholds ?? {}), ...parsed.data.thresholds }));
  if (!t.success) throw new ConfigError(`Invalid configuration: ${issues('alerts.thresholds', t.error)}`);
  const s = parsed.data;
  if (s.email.enabled && s.email.recipients.length === 0) throw new ConfigError('Invalid configuration: alerts.email.recipients must list at least one address when email is enabled.');
  if (s.slack.enabled && !s.slack.webhook_url) throw new ConfigError('Invalid configuration: alerts.slack.webhook_url is required when Slack is enabled.');
  if (s.webhook.enabled && !s.webhook.url) throw new ConfigError('Invalid configuration: alerts.webhook.url is required when the webhook is enabled.');
  return { ...s, thresholds: t.data };
}

/** The settings an admin sees in the console: secrets masked (a URL keeps only its origin: the path is the secret). */
export function publicSettings(s: AlertSettings) {
  return {
    email: { ...s.email, password: s.email.password ? '••••' : null },
    slack: { ...s.slack, webhook_url: s.slack.webhook_url ? maskUrl(s.slack.webhook_url) : null },
    webhook: { ...s.webhook, url: s.webhook.url ? maskUrl(s.webhook.url) : null },
    thresholds: s.thresholds,
    rolling_verify_days: s.rolling_verify_days,
    failure_rate_window_hours: s.failure_rate_window_hours,
    schedule_missed_after_seconds: s.schedule_missed_after_seconds,
  };
}

export type PublicAlertSettings = ReturnType<typeof publicSettings>;

function maskUrl(u: string): string {
  const url = new URL(u);
  return `${url.origin}/…`;
}
