import { expect, type Locator, type Page, type TestInfo } from '@playwright/test';
import { signIn } from './fixtures';

/**
 * Helpers for the Authorization page specs. Tests share one server and run in
 * parallel, so every test makes its own tokens under a unique tag and narrows
 * the list to that tag with "Search by name" (`?q=`).
 */

export const LIST_URL = '/settings/authorization';

/** A tag no other test uses: the test's worker, a slice of its title, randomness. */
export function uniqueTag(testInfo: TestInfo): string {
  const random = Math.random().toString(36).slice(2, 8);
  return `t${testInfo.workerIndex}${testInfo.retry}x${random}`;
}

/** Signs in and waits for the Authorization page the sign-in lands on. */
export async function signInAs(page: Page, email: string) {
  await signIn(page, email);
  await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
}

/** Opens the Authorization page narrowed to names containing `q`. */
export async function openList(page: Page, q: string) {
  await page.goto(`${LIST_URL}?q=${encodeURIComponent(q)}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
  await expect(page.getByLabel('Search by name')).toHaveValue(q);
}

export interface SeededToken {
  id: string;
  name: string;
  secret: string;
}

/**
 * Creates a token for the signed-in member the way the page's htmx form does
 * (same endpoint, CSRF header, HX-Request), so setup is quick and leaves no
 * one-time secret waiting in the session. Not what a test is about: tests
 * that are about creating drive the page itself.
 */
export async function seedToken(
  page: Page,
  name: string,
  options: { role?: 'reader' | 'writer' | 'admin'; service?: boolean; description?: string } = {},
): Promise<SeededToken> {
  const csrf = await csrfToken(page);
  const form: Record<string, string> = {
    name,
    description: options.description ?? '',
    role: options.role ?? 'reader',
    api_version: '20240415',
    expires: '',
  };
  if (options.service) form.service = '1';
  const response = await page.request.post(`${LIST_URL}/tokens`, {
    form,
    headers: { 'HX-Request': 'true', 'X-CSRF-Token': csrf },
  });
  expect(response.status(), `seeding token ${name}`).toBe(200);
  const html = await response.text();
  const secret = /id="new-secret"[^>]*value="([^"]+)"/.exec(html)?.[1];
  const id = /<tr id="row-([^"]+)"/.exec(html)?.[1];
  expect(secret, `secret in the seeding response for ${name}`).toMatch(/^lk_(pat|svc)_[0-9A-Za-z]{36}$/);
  expect(id, `row id in the seeding response for ${name}`).toBeTruthy();
  return { id: id!, name, secret: secret! };
}

const cachedCsrf = new WeakMap<object, string>();

async function csrfToken(page: Page): Promise<string> {
  const known = cachedCsrf.get(page.context());
  if (known) return known;
  const response = await page.request.get(LIST_URL);
  expect(response.ok()).toBeTruthy();
  const token = /name="csrf_token" value="([^"]+)"/.exec(await response.text())?.[1];
  expect(token, 'a CSRF token on the Authorization page').toBeTruthy();
  cachedCsrf.set(page.context(), token!);
  return token!;
}

export function tokensTable(page: Page): Locator {
  return page.getByRole('table', { name: 'Access tokens' });
}

/** The table row whose row header is exactly `name` (tokens without a description). */
export function row(page: Page, name: string): Locator {
  return tokensTable(page)
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name, exact: true }) });
}

export function actionsButton(page: Page, name: string): Locator {
  return page.getByRole('button', { name: `Actions for ${name}`, exact: true });
}

export function menuFor(page: Page, name: string): Locator {
  return page.getByRole('menu', { name: `Actions for ${name}`, exact: true });
}

/** The page's persistent announcement region (the first role=status on the page). */
export function pageStatus(page: Page): Locator {
  return page.locator('#status').and(page.getByRole('status'));
}

/** Row header names of the table's body rows, top to bottom. */
export async function rowNames(page: Page): Promise<string[]> {
  const names = await tokensTable(page).getByRole('rowheader').allInnerTexts();
  return names.map((n) => n.split('\n')[0].trim());
}

/** Opens a row's menu with the mouse and picks an item. */
export async function chooseFromMenu(page: Page, tokenName: string, item: string) {
  await actionsButton(page, tokenName).click();
  const menu = menuFor(page, tokenName);
  await expect(menu).toBeVisible();
  await menu.getByRole('menuitem', { name: item, exact: true }).click();
}

/** Focus is somewhere meaningful, never the document body. */
export async function expectFocusNotOnBody(page: Page, step: string) {
  const onBody = await page.evaluate(
    () => document.activeElement === null || document.activeElement === document.body,
  );
  expect(onBody, `focus fell to <body> after: ${step}`).toBe(false);
}

/** The "Token" column of a row: "••••" plus the secret's last four characters. */
export function tokenCell(rowLocator: Locator): Locator {
  // Cells after the row header: Role, Type, Member, Token, ...
  return rowLocator.getByRole('cell').nth(3);
}

export const SECRET_PAT = /^lk_pat_[0-9A-Za-z]{36}$/;
export const SECRET_SVC = /^lk_svc_[0-9A-Za-z]{36}$/;

/** Waits for the response to a POST under /settings/authorization/tokens. */
export function tokenPost(page: Page, pathEnd: RegExp) {
  return page.waitForResponse(
    (r) => r.request().method() === 'POST' && pathEnd.test(new URL(r.url()).pathname),
  );
}

/** The secret is in no storage htmx or anything else could keep it in. */
export async function expectSecretNotStored(page: Page, secret: string) {
  const stored = await page.evaluate(() => {
    const dump = (s: Storage) =>
      Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i)!)}`).join('\n');
    return `${dump(localStorage)}\n${dump(sessionStorage)}\n${location.href}`;
  });
  expect(stored).not.toContain(secret);
}
