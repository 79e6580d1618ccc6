import { procedure } from '../../init';
import { schedulesFor } from './api';

export const list = procedure.query(async ({ ctx }) => (await schedulesFor(ctx.services)).list());
