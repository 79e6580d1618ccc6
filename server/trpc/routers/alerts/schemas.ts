import { z } from 'zod';

export const byAlertId = z.object({ alertId: z.string().trim().min(1).max(100) });
