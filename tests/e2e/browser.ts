/**
 * What every console e2e file shares: Debian's Chromium through playwright-core, screenshots, sign-in, and
 * contexts that keep every tRPC response body so a test can check that no secret ever left the server.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';

export const SHOTS = path.resolve('tests/artifacts/screenshots');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-features=AutofillServerCommunication'];

export async function launchChromium(): Promise<Browser> {
  await mkdir(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * Signs in on a loaded login page. It first waits for the form to be hydrated and idle: React resets an
 * uncontrolled form when the previous attempt's action settles, which can land after the response headers a
 * caller waited for, and would clear fields filled too early (the empty required fields then block the submit).
 */
export async function signIn(p: Page, email: string, password: string): Promise<void> {
  await whenHydrated(p, 'form button[type=submit]');
  await p.waitForFunction(() => {
    const b = document.querySelector<HTMLButtonElement>('form button[type=submit]');
    return !!b && !b.disabled && b.textContent === 'Sign in';
  }, undefined, { timeout: 60_000 });
  const [user, pass] = [p.getByLabel('Email'), p.getByLabel('Password')];
  for (let tries = 0; ; tries++) {
    await user.fill(email);
    await pass.fill(password);
    if ((await user.inputValue()) === email && (await pass.inputValue()) === password) break;
    if (tries === 3) throw new Error('the login form kept being reset while signIn() filled it');
  }
  await p.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * Waits until React has hydrated the element `selector` matches (React sets its `__reactProps$…` key on a
 * node when it takes it over). A click that lands while a loaded page is still hydrating, as happens on a
 * busy CI machine, can be dropped by React's event replay: the form then never posts and the test waits
 * out its timeout for an answer that was never asked for.
 */
export async function whenHydrated(p: Page, selector: string): Promise<void> {
  await p.waitForFunction(
    (sel) => {
      const el = document.querySelector(sel);
      return !!el && Object.keys(el).some((k) => k.startsWith('__reactProps$'));
    },
    selector,
    { timeout: 60_000 },
  );
}

/**
 * Clicks what `target` finds once React has hydrated that very element (whenHydrated's test, on a locator):
 * for a button a test clicks right after opening a page, which a busy machine may still be hydrating.
 */
export async function clickHydrated(target: Locator, timeout = 60_000): Promise<void> {
  await target.waitFor({ timeout });
  const until = Date.now() + timeout;
  while (!(await target.evaluate((el) => Object.keys(el).some((k) => k.startsWith('__reactProps$'))))) {
    if (Date.now() > until) throw new Error(`clickHydrated: React did not take ${String(target)} over within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await target.click();
}

/**
 * Opens `path` signed out, signs in on the login page the console redirects to, and waits to be back on
 * `path`: how every e2e test starts a user's session.
 */
export async function signInAt(p: Page, path: string, who: { email: string; password: string }, log?: () => string): Promise<void> {
  await p.goto(path);
  await p.waitForURL(/\/login/);
  await signIn(p, who.email, who.password);
  const target = new URL(path, p.url()).href;
  await p.waitForURL(target).catch((err: Error) => {
    throw new Error(`sign-in of ${who.email} did not reach ${path}: ${err.message}${log ? `\n${log().slice(-3000)}` : ''}`);
  });
}

/**
 * Playwright gives its browser-level calls (newContext, newPage, cookies, close) no timeout. One of them hung
 * twice in CI under the whole suite's load, and the test then failed only on its own timeout, naming nothing:
 * these calls now fail after `ms`, saying which one hung.
 */
export async function within<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s (the browser did not answer)`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const BROWSER_CALL_MS = 60_000;

/** A new page in `ctx`, failing with a named error when the browser does not open it. */
export async function openPage(ctx: BrowserContext): Promise<Page> {
  return within('browserContext.newPage', BROWSER_CALL_MS, ctx.newPage());
}

/** Closes a context a test opened; a close the browser never confirms is reported, and browser.close() ends it later. */
export async function closeContext(ctx: BrowserContext): Promise<void> {
  await within('browserContext.close', BROWSER_CALL_MS, ctx.close()).catch((err: Error) => console.warn(`[e2e] ${err.message}`));
}

/** The Cookie header of a context's session, for fetch() calls made as that user from the test. */
export async function cookieHeader(ctx: BrowserContext): Promise<string> {
  return (await within('browserContext.cookies', BROWSER_CALL_MS, ctx.cookies())).map((c) => `${c.name}=${c.value}`).join('; ');
}

/** Answers the console's confirmation dialog (components/ui/confirm-dialog.tsx) with its confirm button. */
export async function confirmDialog(p: Page, confirmLabel: string): Promise<void> {
  const dialog = p.getByRole('dialog');
  await dialog.getByRole('button', { name: confirmLabel, exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
}

/**
 * A fresh browser context on the console. With `bodies`, every tRPC response body is appended to it (for tests
 * that check no secret left the server); without, no body is read, so a navigation never leaves a read pending.
 */
export async function newContext(browser: Browser, baseURL: string, bodies?: string[]): Promise<BrowserContext> {
  const ctx = await within('browser.newContext', BROWSER_CALL_MS, browser.newContext({ baseURL, viewport: { width: 1280, height: 900 } }));
  if (bodies) {
    ctx.on('response', async (res) => {
      if (res.url().includes('/api/trpc/')) bodies.push(await res.text().catch(() => ''));
    });
  }
  return ctx;
}

/** A tRPC mutation called from inside the page (with its session cookie), as a forged request would be. */
export async function callMutation(p: Page, procedure: string, input: unknown): Promise<{ status: number; code: string | undefined }> {
  return p.evaluate(
    async ([proc, body]) => {
      const res = await fetch(`/api/trpc/${proc}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.json()) as { error?: { data?: { code?: string } } };
      return { status: res.status, code: json.error?.data?.code };
    },
    [procedure, input] as const,
  );
}

/** Calls a tRPC procedure from the page, with its session cookie, and returns its data (throws with the error). */
export async function trpc<T>(p: Page, procedure: string, input: unknown, kind: 'query' | 'mutation'): Promise<T> {
  const out = await p.evaluate(
    async ([proc, body, k]) => {
      const res =
        k === 'query'
          ? await fetch(`/api/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(body))}`)
          : await fetch(`/api/trpc/${proc}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return (await res.json()) as { result?: { data?: unknown }; error?: unknown };
    },
    [procedure, input, kind] as const,
  );
  if (!out.result) throw new Error(`${procedure}: ${JSON.stringify(out.error).slice(0, 500)}`);
  return out.result.data as T;
}
