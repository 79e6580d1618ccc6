/** What the procedures need from the rest of the server; tests pass stand-ins for these. */
import type { BackupEngine } from '../../engine/engine';
import type { AuditSortKey } from '../../audit/list';
import type { NewUser, PublicUser, Role } from '../../auth/users';

export type EngineApi = Pick<
  BackupEngine,
  | 'startBackup'
  | 'listBackups'
  | 'countBackups'
  | 'backupSeries'
  | 'getBackup'
  | 'getBackupProgress'
  | 'verifyBackup'
  | 'repairBackup'
  | 'restoreBackup'
  | 'enqueueRestore'
  | 'claimRestores'
  | 'startRestoreHere'
  | 'getRestoreJob'
  | 'listRestoreJobs'
  | 'deleteBackup'
  | 'deleteBackupReport'
  | 'acknowledgeSuspicious'
  | 'getShardMap'
  | 'getStatistics'
  | 'getStorageUsage'
  | 'getStorageHealth'
  | 'listBackupFiles'
  | 'readBackupFile'
  | 'optimizeStorage'
  | 'sweepOrphans'
  | 'keyStatus'
  | 'exportKeyEscrow'
  | 'audit'
  | 'runDrill'
  | 'listDrills'
>;

export interface UsersApi {
  list(): Promise<PublicUser[]>;
  create(input: NewUser, actor: string): Promise<PublicUser>;
  setRole(id: string, role: Role, actor: string): Promise<PublicUser>;
  setDisabled(id: string, disabled: boolean, actor: string): Promise<PublicUser>;
  unlock(id: string, actor: string): Promise<PublicUser>;
  /** Also ends every session of the user. */
  setPassword(id: string, password: string, actor: string): Promise<PublicUser>;
  /** Deletes the account and ends its sessions; refused on the actor and on the last enabled admin. */
  remove(id: string, actor: string): Promise<PublicUser>;
}

export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  sort?: { key: AuditSortKey; dir: 'asc' | 'desc' };
  action?: string;
  actor?: string;
  outcome?: string;
  limit: number;
  offset: number;
}

export interface AuditApi {
  list(filter: AuditFilter): Promise<{ events: AuditEvent[]; total: number }>;
}

export interface Services {
  engine(): Promise<EngineApi>;
  users(): Promise<UsersApi>;
  audit(): Promise<AuditApi>;
}
