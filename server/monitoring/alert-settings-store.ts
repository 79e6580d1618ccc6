/**
 * Alert channels and thresholds edited from the console. They live in the catalog's `settings` table under
 * the key `alerts`, so every process of the installation (console, workers, CLI) sees the same ones: the
 * non-secret part as JSON, the secrets (SMTP password, Slack and webhook URLs — whoever has the URL can
 * post) sealed under the master key. Once saved they replace the config file's `alerts` key as a whole, so
 * what the console shows is exactly what runs; "use the configuration file" removes them again.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { settings } from '../../db/schema';
import { ConfigError } from '../config';
import { EngineError } from '../engine/errors';
import { openSecretAny, sealSecret } from '../engine/keys/keys';
import { alertSettings, type AlertSettings } from './alert-settings';

const KEY = 'alerts';
const SEAL_CONTEXT = 'settings:alerts';

/** The fields that are secrets, as [channel, field]. */
const SECRET_FIELDS = [
  ['email', 'password'],
  ['slack', 'webhook_url'],
  ['webhook', 'url'],
] as const;

interface StoredValue {
  settings: Record<string, unknown>;
  sealed: string | null;
  updated_by: string;
  updated_at: string;
}

export interface StoredAlertSettings {
  settings: AlertSettings;
  updated_by: string;
  updated_at: string;
}

/** An edit from the console: the form's values. A secret left empty, undefined or still masked keeps its value; null removes it. */
export interface AlertSettingsPatch {
  email?: Partial<Record<keyof AlertSettings['email'], unknown>>;
  slack?: Partial<Record<keyof AlertSettings['slack'], unknown>>;
  webhook?: Partial<Record<keyof AlertSettings['webhook'], unknown>>;
  thresholds?: Partial<Record<keyof AlertSettings['thresholds'], unknown>>;
  rolling_verify_days?: unknown;
  failure_rate_window_hours?: unknown;
  schedule_missed_after_seconds?: unknown;
}

/** What a masked secret looks like in publicSettings: "••••" or "https://host/…". */
export const isMasked = (v: unknown): boolean => typeof v === 'string' && (v.startsWith('••••') || v.endsWith('/…'));

type Channel = Record<string, unknown>;

function split(s: AlertSettings): { plain: Record<string, unknown>; secrets: Record<string, string> } {
  const plain = structuredClone(s) as unknown as Record<string, Channel>;
  const secrets: Record<string, string> = {};
  for (const [ch, field] of SECRET_FIELDS) {
    const v = plain[ch]?.[field];
    if (typeof v === 'string' && v) secrets[`${ch}.${field}`] = v;
    delete plain[ch]?.[field];
  }
  return { plain, secrets };
}

/** Validates like the config file does, with the message naming the field; INVALID for the caller. */
function validate(raw: Record<string, unknown>): AlertSettings {
  try {
    return alertSettings({ alerts: raw, alert_thresholds: {} });
  } catch (err) {
    if (err instanceof ConfigError) throw new EngineError('INVALID', err.message.replace(/^Invalid configuration: /, 'Invalid alert settings: '));
    throw err;
  }
}

/** The stored settings, or null when the console never saved any (the config file's then apply). */
export async function loadStoredAlertSettings(db: Db, masters: () => Buffer[]): Promise<StoredAlertSettings | null> {
  const [row] = await db.select().from(settings).where(eq(settings.key, KEY));
  if (!row) return null;
  const v = row.value as unknown as StoredValue;
  const raw = structuredClone(v.settings) as Record<string, Channel>;
  if (v.sealed) {
    let secrets: Record<string, string>;
    try {
      secrets = JSON.parse(openSecretAny(masters(), v.sealed, SEAL_CONTEXT)) as Record<string, string>;
    } catch {
      throw new EngineError('INVALID', 'The alert settings saved in the console cannot be opened with the configured master key; enter the channel secrets again.');
    }
    for (const [path, value] of Object.entries(secrets)) {
      const [ch, field] = path.split('.') as [string, string];
      raw[ch] = { ...raw[ch], [field]: value };
    }
  }
  return { settings: validate(raw), updated_by: v.updated_by, updated_at: v.updated_at };
}

/**
 * Applies a console edit over the settings in force (`current`) and stores the result, secrets sealed.
 * Returns the new settings; throws INVALID naming the field when they would not be valid.
 */
export async function saveAlertSettings(db: Db, master: Buffer, current: AlertSettings, patch: AlertSettingsPatch, actor: string, now = new Date()): Promise<AlertSettings> {
  const raw = structuredClone(current) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) raw[k] = { ...(raw[k] as Channel), ...(v as Channel) };
    else raw[k] = v;
  }
  const before = current as unknown as Record<string, Channel>;
  for (const [ch, field] of SECRET_FIELDS) {
    const sent = (patch[ch] as Channel | undefined)?.[field];
    const target = raw[ch] as Channel;
    if (sent === null) delete target[field];
    else if (sent === undefined || sent === '' || isMasked(sent)) {
      if (before[ch]?.[field] !== undefined) target[field] = before[ch][field];
      else delete target[field];
    }
  }
  // An emptied optional text field means "none".
  for (const [ch, field] of [['email', 'username'], ['slack', 'channel']] as const) if ((raw[ch] as Channel)[field] === '') delete (raw[ch] as Channel)[field];
  const next = validate(raw);
  const { plain, secrets } = split(next);
  const value: StoredValue = {
    settings: plain,
    sealed: Object.keys(secrets).length ? sealSecret(master, JSON.stringify(secrets), SEAL_CONTEXT) : null,
    updated_by: actor,
    updated_at: now.toISOString(),
  };
  const v = value as unknown as Record<string, unknown>;
  await db.insert(settings).values({ key: KEY, value: v, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value: v, updatedAt: now } });
  return next;
}

/** Forgets the console's settings: the config file's `alerts` key applies again. Returns whether any were stored. */
export async function clearStoredAlertSettings(db: Db): Promise<boolean> {
  const done = await db.delete(settings).where(eq(settings.key, KEY)).returning({ key: settings.key });
  return done.length > 0;
}

