import { z } from 'zod';

export const byAlertId = z.object({ alertId: z.string().trim().min(1).max(100) });

const secret = z.string().trim().max(2000).nullable().optional();
const num = z.number().finite();

/** A console edit of the alert settings; field-level rules (ranges, required URLs) are checked by the same validation as the config file. */
export const alertSettingsInput = z.strictObject({
  email: z
    .strictObject({
      enabled: z.boolean(),
      smtp_server: z.string().trim().max(255),
      smtp_port: z.number().int(),
      secure: z.boolean(),
      username: z.string().trim().max(255),
      password: secret,
      from: z.string().trim().max(320),
      recipients: z.array(z.string().trim().max(320)).max(50),
    })
    .partial()
    .optional(),
  slack: z.strictObject({ enabled: z.boolean(), webhook_url: secret, channel: z.string().trim().max(100) }).partial().optional(),
  webhook: z.strictObject({ enabled: z.boolean(), url: secret }).partial().optional(),
  thresholds: z
    .strictObject({
      storage_usage_warning: num,
      storage_usage_critical: num,
      backup_failure_rate_warning: num,
      backup_failure_rate_critical: num,
      recovery_time_warning: num,
      recovery_time_critical: num,
      restore_time_objective_minutes: num,
    })
    .partial()
    .optional(),
  rolling_verify_days: num.optional(),
  failure_rate_window_hours: num.optional(),
  schedule_missed_after_seconds: num.optional(),
});
