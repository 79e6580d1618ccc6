import { router } from '../../init';
import { create } from './create';
import { list } from './list';
import { pause, resume } from './pause';
import { preview } from './preview';
import { remove } from './remove';
import { runNow } from './run-now';
import { update } from './update';

export const schedulesRouter = router({ list, preview, create, update, pause, resume, remove, runNow });
