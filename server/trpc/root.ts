import { router } from './init';
import { auditRouter } from './routers/audit';
import { authRouter } from './routers/auth';
import { backupRouter } from './routers/backup';
import { statsRouter } from './routers/stats';
import { storageRouter } from './routers/storage';
import { usersRouter } from './routers/users';
import { alertsRouter } from './routers/alerts';
import { reportsRouter } from './routers/reports';
import { keysRouter } from './routers/keys';
import { schedulesRouter } from './routers/schedules';
import { drillsRouter } from './routers/drills';
import { restoresRouter } from './routers/restores';

export const appRouter = router({
  auth: authRouter,
  backup: backupRouter,
  storage: storageRouter,
  stats: statsRouter,
  users: usersRouter,
  audit: auditRouter,
  schedules: schedulesRouter,
  alerts: alertsRouter,
  reports: reportsRouter,
  keys: keysRouter,
  drills: drillsRouter,
  restores: restoresRouter,
});

export type AppRouter = typeof appRouter;
