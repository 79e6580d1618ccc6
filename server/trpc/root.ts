import { router } from './init';
import { auditRouter } from './routers/audit';
import { authRouter } from './routers/auth';
import { backupRouter } from './routers/backup';
import { statsRouter } from './routers/stats';
import { storageRouter } from './routers/storage';
import { usersRouter } from './routers/users';

export const appRouter = router({
  auth: authRouter,
  backup: backupRouter,
  storage: storageRouter,
  stats: statsRouter,
  users: usersRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
