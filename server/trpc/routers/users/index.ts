import { router } from '../../init';
import { create } from './create';
import { disable } from './disable';
import { list } from './list';
import { setRole } from './set-role';

export const usersRouter = router({ list, create, setRole, disable });
