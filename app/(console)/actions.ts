'use server';
import { signOut } from '@/server/auth';
import { getCurrentUser } from '@/server/auth/current';
import { getEngine } from '@/server/context';

export async function signOutAction(): Promise<void> {
  const user = await getCurrentUser();
  if (user) await (await getEngine()).audit({ actor: user.email, action: 'auth.signout' }).catch(() => undefined);
  await signOut({ redirectTo: '/login' });
}
