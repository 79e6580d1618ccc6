/** The audit CSV's cells (quoting, formula defusing) and the alert form's error wording (labels, not setting names). */
import { describe, expect, it } from 'vitest';
import { withFormLabels } from '../../components/alerts/setting-labels';
import { formatDate, formatInZone } from '../../components/format';
import { auditCsvRow, csvCell, csvRow } from '../../server/audit/csv';

describe('audit CSV cells', () => {
  it('quotes every cell and doubles inner quotes, keeping commas and newlines inside the cell', () => {
    expect(csvCell('plain')).toBe('"plain"');
    expect(csvCell('say "hi", then\nleave')).toBe('"say ""hi"", then\nleave"');
    expect(csvCell(null)).toBe('""');
    expect(csvCell(42)).toBe('"42"');
    expect(csvRow(['a', 'b'])).toBe('"a","b"\r\n');
  });

  it('defuses cells a spreadsheet would run as a formula', () => {
    for (const bad of ['=HYPERLINK("http://evil")', '+1+2', '-2+3', '@SUM(A1)', '\t=1', '\r=1']) {
      const cell = csvCell(bad);
      expect(cell.startsWith(`"'`), cell).toBe(true);
    }
    expect(csvCell('=1+1')).toBe(`"'=1+1"`);
    expect(csvCell('a=1')).toBe('"a=1"');
  });

  it('writes an audit event as time, actor, action, outcome, target, details', () => {
    const row = auditCsvRow({ at: new Date('2026-12-02T16:40:12.345Z'), actor: '=cmd|calc', action: 'user.delete', outcome: 'success', target: 'a@x.test', details: { role: 'viewer', note: '@x' } });
    expect(row).toBe(`"2026-12-02T16:40:12.345Z","'=cmd|calc","user.delete","success","a@x.test","{""role"":""viewer"",""note"":""@x""}"\r\n`);
    expect(auditCsvRow({ at: new Date(0), actor: 'system', action: 'x', outcome: 'success', target: null, details: {} })).toBe('"1970-01-01T00:00:00.000Z","system","x","success","",""\r\n');
  });
});

describe('alert form errors use the form labels', () => {
  it('rewrites the server’s setting names into the labels the admin sees', () => {
    expect(withFormLabels('Invalid configuration: alerts.thresholds storage_usage_warning must not exceed storage_usage_critical')).toBe(
      '“Storage usage warning (%)” must not exceed “Storage usage critical (%)”',
    );
    expect(withFormLabels('Invalid configuration: alerts.thresholds.recovery_time_warning Too small: expected number to be >0')).toBe('“Recovery time warning (s)” Too small: expected number to be >0');
    expect(withFormLabels('Invalid configuration: alerts.email.recipients must list at least one address when email is enabled.')).toBe('“Recipients” must list at least one address when email is enabled.');
    expect(withFormLabels('Invalid configuration: alerts.slack.webhook_url is required when Slack is enabled.')).toBe('“Slack webhook URL” is required when Slack is enabled.');
    expect(withFormLabels('Invalid input: thresholds.storage_usage_critical: Invalid input: expected number')).toBe('“Storage usage critical (%)”: Invalid input: expected number');
    expect(withFormLabels('The SMTP server refused the connection')).toBe('The SMTP server refused the connection');
  });
});

describe('one date format', () => {
  it('shows UTC with its name, whatever the browser’s zone', () => {
    expect(formatDate('2026-12-02T16:40:12.345Z')).toBe('2026-12-02 16:40:12 UTC');
    expect(formatDate(null)).toBe('—');
    expect(formatDate('not a date')).toBe('—');
    expect(formatInZone('2026-12-02T16:40:12Z', 'Europe/Berlin')).toMatch(/^2026-12-02 17:40 (CET|GMT\+1)$/);
  });
});
