import { z } from 'zod';
import { MIN_PASSWORD_LENGTH } from '../../../auth/password';
import { procedure } from '../../init';
import { role } from './schemas';

export const createUserInput = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email('is not an email address')),
  name: z.string().trim().max(200).optional(),
  password: z.string().min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`).max(1024),
  role,
});

export const create = procedure.input(createUserInput).mutation(async ({ ctx, input }) => (await ctx.services.users()).create(input, ctx.user.email));
