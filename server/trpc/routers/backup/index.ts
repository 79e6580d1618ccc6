import { router } from '../../init';
import { acknowledge } from './acknowledge';
import { create } from './create';
import { remove } from './delete';
import { files } from './files';
import { get } from './get';
import { list } from './list';
import { progress } from './progress';
import { recover, restoreProgress } from './recover';
import { repair } from './repair';
import { shardMap } from './shard-map';
import { verify } from './verify';

export const backupRouter = router({ create, list, get, files, progress, verify, repair, recover, restoreProgress, delete: remove, shardMap, acknowledge });
