/**
 * What the alert rules in change-alerts.ts and drill-alerts.ts need from the alert service: raise, resolve,
 * the current thresholds. AlertService implements it; the rules take this, so they do not import the service
 * that imports them.
 */
import type { AlertSettings } from './alert-settings';
import type { AlertRow, RaiseInput } from './alert-store';

export interface AlertSink {
  readonly thresholds: AlertSettings['thresholds'];
  refresh(force?: boolean): Promise<AlertSettings>;
  raise(input: RaiseInput): Promise<AlertRow>;
  resolve(subjectKey: string, note?: string): Promise<AlertRow | null>;
}
