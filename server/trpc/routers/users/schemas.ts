import { z } from 'zod';
import { ROLES } from '../../../../db/schema';

export const role = z.enum(ROLES);
export const userId = z.string().trim().min(1).max(100);
