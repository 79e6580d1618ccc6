import { router } from '../../init';
import { get } from './get';

export const statsRouter = router({ get });
