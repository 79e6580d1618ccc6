/**
 * Retention: which backups to keep and which to remove, and why. Keep-rules work as operators know them
 * from restic and Borg, per group of backups of the same sources: --keep-last N keeps the N newest;
 * --keep-daily/weekly/monthly N keep the newest backup of each of the last N days/weeks/months that have
 * one. A backup kept by any rule stays. With no rules, backups past their own retention expire.
 *
 * Whatever the rules say, a suspicious backup (its change looked like mass encryption, change-rule.ts) that
 * no admin acknowledged yet is kept, and so is the last good backup of its group before it: the copy to
 * restore from if the sources were encrypted.
 */
export interface KeepRules {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface PruneCandidate {
  backup_id: string;
  group: string;
  completed_at: string;
  expires_at: string | null;
  status: string;
  suspicious?: boolean;
  /** An admin acknowledged the suspicious change. */
  acknowledged?: boolean;
}

export interface PrunePlan {
  keep: { backup_id: string; reasons: string[] }[];
  remove: { backup_id: string; reason: string }[];
}

export function hasRules(r: KeepRules): boolean {
  return Boolean(r.keepLast || r.keepDaily || r.keepWeekly || r.keepMonthly);
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const month = (d: Date) => d.toISOString().slice(0, 7);
function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const year = t.getUTCFullYear();
  const week = Math.ceil(((t.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${String(week).padStart(2, '0')}`;
}

export function planPrune(backups: PruneCandidate[], rules: KeepRules, now: Date): PrunePlan {
  const plan: PrunePlan = { keep: [], remove: [] };
  const groups = new Map<string, PruneCandidate[]>();
  for (const b of backups) {
    if (b.status === 'failed') {
      plan.remove.push({ backup_id: b.backup_id, reason: 'failed backup (holds no data)' });
      continue;
    }
    if (b.status !== 'completed') continue; // running/pending backups are never touched
    const list = groups.get(b.group) ?? [];
    list.push(b);
    groups.set(b.group, list);
  }
  for (const list of groups.values()) {
    list.sort((a, b) => b.completed_at.localeCompare(a.completed_at));
    const reasons = new Map<string, string[]>();
    const add = (id: string, why: string) => reasons.set(id, [...(reasons.get(id) ?? []), why]);
    const held = protections(list);
    const remove = (b: PruneCandidate, reason: string) => {
      const hold = held.get(b.backup_id);
      if (hold) plan.keep.push({ backup_id: b.backup_id, reasons: [hold] });
      else plan.remove.push({ backup_id: b.backup_id, reason });
    };
    const keep = (b: PruneCandidate, why: string[]) => plan.keep.push({ backup_id: b.backup_id, reasons: [...why, ...(held.has(b.backup_id) ? [held.get(b.backup_id)!] : [])] });
    if (hasRules(rules)) {
      list.slice(0, rules.keepLast ?? 0).forEach((b, i) => add(b.backup_id, `keep-last ${i + 1}/${rules.keepLast}`));
      const bucket = (n: number | undefined, key: (d: Date) => string, name: string) => {
        if (!n) return;
        const seen = new Set<string>();
        for (const b of list) {
          const k = key(new Date(b.completed_at));
          if (seen.has(k)) continue;
          if (seen.size >= n) break;
          seen.add(k);
          add(b.backup_id, `${name} ${k}`);
        }
      };
      bucket(rules.keepDaily, day, 'keep-daily');
      bucket(rules.keepWeekly, isoWeek, 'keep-weekly');
      bucket(rules.keepMonthly, month, 'keep-monthly');
      for (const b of list) {
        const r = reasons.get(b.backup_id);
        if (r) keep(b, r);
        else remove(b, 'matched no keep rule');
      }
    } else {
      for (const b of list) {
        if (b.expires_at && new Date(b.expires_at) <= now) remove(b, `expired on ${b.expires_at}`);
        else keep(b, [b.expires_at ? `retained until ${b.expires_at}` : 'no expiry']);
      }
    }
  }
  return plan;
}

/**
 * Backups of one group (newest first) held whatever the rules say: each unacknowledged suspicious backup, and
 * the newest completed backup older than it that is not suspicious.
 */
function protections(list: PruneCandidate[]): Map<string, string> {
  const held = new Map<string, string>();
  list.forEach((b, i) => {
    if (!b.suspicious || b.acknowledged) return;
    held.set(b.backup_id, 'suspicious change not yet acknowledged by an admin (backup acknowledge)');
    const good = list.slice(i + 1).find((o) => !o.suspicious);
    if (good && !held.has(good.backup_id)) held.set(good.backup_id, `last good backup before suspicious backup ${b.backup_id}: kept until an admin acknowledges it`);
  });
  return held;
}
