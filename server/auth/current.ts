/**
 * The signed-in user, read fresh from the catalog on each request: a role change or a disabled account
 * takes effect at once, not when the session cookie expires.
 */
import { getDb } from '../context';
import { auth } from './index';
import { getUser, type PublicUser } from './users';

export async function getCurrentUser(): Promise<PublicUser | null> {
  const session = await auth();
  const id = session?.user?.id;
  if (!id) return null;
  const user = await getUser(await getDb(), id);
  return user && !user.disabled ? user : null;
}
