import { procedure } from '../../init';
import { schedulesFor } from './api';
import { byName } from './schemas';

export const remove = procedure.input(byName).mutation(async ({ ctx, input }) => {
  await (await schedulesFor(ctx.services)).remove(input.name, ctx.user.email);
  return { name: input.name, removed: true };
});
