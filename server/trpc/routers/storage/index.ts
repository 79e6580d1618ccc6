import { router } from '../../init';
import { health } from './health';
import { usage } from './usage';

export const storageRouter = router({ usage, health });
