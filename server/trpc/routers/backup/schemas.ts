import { z } from 'zod';

export const backupId = z.string().trim().min(1, 'is required').max(200);
export const byId = z.object({ backupId });
