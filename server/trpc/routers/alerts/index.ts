import { router } from '../../init';
import { acknowledge } from './acknowledge';
import { get } from './get';
import { history } from './history';
import { list } from './list';
import { resetSettings, sendTest, settings, updateSettings } from './settings';

export const alertsRouter = router({ list, get, history, acknowledge, settings, updateSettings, resetSettings, sendTest });
