import { z } from 'zod';
import { SECURITY_LEVELS } from '../../../config';
import { SCHEDULE_TYPES } from '../../../jobs/schedule-store';

export const scheduleName = z.string().trim().min(1).max(63);
export const byName = z.object({ name: scheduleName });
export const scheduleFields = z.object({
  name: scheduleName,
  cron: z.string().trim().min(1).max(200),
  timezone: z.string().trim().min(1).max(64).default('UTC'),
  paths: z.array(z.string().trim().min(1).max(4096)).min(1).max(50),
  backupType: z.enum(SCHEDULE_TYPES).default('full'),
  securityLevel: z.enum(SECURITY_LEVELS).nullable().default(null),
  tags: z.array(z.string().trim().min(1).max(64)).max(20).default([]),
  retentionDays: z.number().int().min(1).max(36500).nullable().default(null),
  priority: z.number().int().min(1).max(10).default(5),
  delaySeconds: z.number().int().min(1).max(86_400).nullable().default(null),
});
