/**
 * The sort of a paged list: one of the list's allow-listed keys and a direction. The key is an enum the
 * list maps to its own column (never a column name or SQL from the client); anything else is a 400.
 */
import { z } from 'zod';

export const sortInput = <const K extends readonly [string, ...string[]]>(keys: K) => z.strictObject({ key: z.enum(keys), dir: z.enum(['asc', 'desc']) }).optional();
