import { router } from '../../init';
import { acknowledge } from './acknowledge';
import { get } from './get';
import { list } from './list';
import { sendTest, settings } from './settings';

export const alertsRouter = router({ list, get, acknowledge, settings, sendTest });
