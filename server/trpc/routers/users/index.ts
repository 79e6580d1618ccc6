import { router } from '../../init';
import { create } from './create';
import { remove } from './delete';
import { disable } from './disable';
import { list } from './list';
import { resetPassword } from './reset-password';
import { setRole } from './set-role';
import { unlock } from './unlock';

export const usersRouter = router({ list, create, setRole, disable, unlock, resetPassword, delete: remove });
