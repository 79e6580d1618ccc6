import { router } from '../../init';
import { list } from './list';

export const auditRouter = router({ list });
