/**
 * The alert form's labels, and the server's setting names (`alerts.thresholds storage_usage_warning …`)
 * rewritten into them, so an error names the field the admin sees.
 */
export const THRESHOLDS = [
  ['storage_usage_warning', 'Storage usage warning (%)'],
  ['storage_usage_critical', 'Storage usage critical (%)'],
  ['backup_failure_rate_warning', 'Failure rate warning (%)'],
  ['backup_failure_rate_critical', 'Failure rate critical (%)'],
  ['recovery_time_warning', 'Recovery time warning (s)'],
  ['recovery_time_critical', 'Recovery time critical (s)'],
  ['restore_time_objective_minutes', 'Restore time objective, drills (min)'],
] as const;

export type ThresholdKey = (typeof THRESHOLDS)[number][0];

const LABELS: Record<string, string> = {
  ...Object.fromEntries(THRESHOLDS),
  rolling_verify_days: 'Re-verify every backup within (days)',
  'email.smtp_server': 'SMTP server',
  'email.smtp_port': 'SMTP port',
  'email.username': 'SMTP username',
  'email.password': 'SMTP password',
  'email.from': 'From address',
  'email.recipients': 'Recipients',
  'slack.webhook_url': 'Slack webhook URL',
  'slack.channel': 'Slack channel',
  'webhook.url': 'Webhook URL',
};

const quote = (label: string) => `“${label}”`;

/** "Invalid configuration: alerts.thresholds storage_usage_warning must not exceed storage_usage_critical" → "“Storage usage warning (%)” must not exceed “Storage usage critical (%)”". */
export function withFormLabels(message: string): string {
  return (
    message
      .replace(/^(Invalid input|Invalid configuration):\s*/, '')
      // An object-level rule names the object, then the fields in its own words.
      .replace(/\balerts\.thresholds\s+(?=[a-z])/g, '')
      .replace(/\b(?:alerts\.)?(?:thresholds\.)?(email|slack|webhook)\.([a-z_]+)(?:\.\d+)?\b/g, (all, section: string, key: string) => {
        const label = LABELS[`${section}.${key}`];
        return label ? quote(label) : all;
      })
      .replace(/\b(?:alerts\.)?(?:thresholds\.)?([a-z]+(?:_[a-z]+)+)\b/g, (all, key: string) => (LABELS[key] ? quote(LABELS[key]) : all))
      .replace(/:\s*:/g, ':')
  );
}
