import { router } from '../../init';
import { me } from './me';

export const authRouter = router({ me });
