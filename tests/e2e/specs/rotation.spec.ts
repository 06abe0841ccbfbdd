import { expect, test, type Locator, type Page } from '@playwright/test';
import { OWNER, expectNoAxeViolations } from './fixtures';
import {
  LIST_URL,
  actionsButton,
  expectFocusNotOnBody,
  menuFor,
  openList,
  pageStatus,
  row,
  seedToken,
  signInAs,
  tokensTable,
  uniqueTag,
  type SeededToken,
} from './tokens-helpers';

/**
 * Rotation you can watch: after a reset with a grace period the row says
 * until when the old secret works and whether anything still uses it; "End
 * grace period now" ends it early; the token's details page shows where it
 * was used from. (start-server.sh writes uses every second.)
 */

async function press(page: Page, key: string, expected: Locator) {
  await page.keyboard.press(key);
  await expect(expected, `focus after ${key}`).toBeFocused();
  await expectFocusNotOnBody(page, key);
}

async function apiStatus(page: Page, secret: string, userAgent = 'e2e-probe/1.0'): Promise<number> {
  const res = await page.request.get('/api/v2/caller-identity', {
    headers: { Authorization: secret, 'User-Agent': userAgent },
  });
  return res.status();
}

/** Resets `token` with a 1 hour grace period the way the page's htmx form does; returns the new secret. */
async function resetWithGrace(page: Page, token: SeededToken): Promise<string> {
  const list = await page.request.get(LIST_URL);
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(await list.text())?.[1] ?? '';
  const res = await page.request.post(`${LIST_URL}/tokens/${token.id}/reset`, {
    form: { grace: '1h', confirm_name: token.name },
    headers: { 'HX-Request': 'true', 'X-CSRF-Token': csrf },
  });
  expect(res.status(), 'reset').toBe(200);
  const secret = /id="new-secret"[^>]*value="([^"]+)"/.exec(await res.text())?.[1];
  expect(secret).toMatch(/^lk_pat_/);
  return secret!;
}

/** The row's grace line, once uses have been written (every second). */
async function expectGraceLine(page: Page, tag: string, name: string, text: RegExp) {
  await expect(async () => {
    await openList(page, tag);
    await expect(row(page, name).locator('.grace-line')).toHaveText(text, { timeout: 500 });
  }).toPass({ timeout: 15_000 });
}

test('the row shows the old secret in use; End grace period now by keyboard', async ({ page }, testInfo) => {
  test.slow();
  const tag = uniqueTag(testInfo);
  const name = `${tag} rotating`;
  await signInAs(page, OWNER);
  const token = await seedToken(page, name);
  const fresh = await resetWithGrace(page, token);
  await openList(page, tag);
  await expect(row(page, name).locator('.grace-line')).toHaveText(/^Old secret valid until .+ UTC, not used since reset$/);
  await expectNoAxeViolations(page);

  // Something still uses the old secret: the row says so.
  expect(await apiStatus(page, token.secret)).toBe(200);
  await expectGraceLine(page, tag, name, /, last used (just now|\d+ seconds? ago)$/);

  const menu = menuFor(page, name);
  const item = (label: string) => menu.getByRole('menuitem', { name: label, exact: true });
  await actionsButton(page, name).focus();
  await press(page, 'Enter', item('Edit token'));
  await expect(menu.getByRole('menuitem')).toHaveText([
    'Edit token',
    'Clone token',
    'Reset token',
    'End grace period now',
    'Suspend token',
    'View audit log',
    'Delete token',
  ]);
  await press(page, 'ArrowDown', item('Clone token'));
  await press(page, 'ArrowDown', item('Reset token'));
  await press(page, 'ArrowDown', item('End grace period now'));
  await page.keyboard.press('Enter');

  const confirm = page.getByRole('alertdialog', { name: 'End grace period?' });
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText('The old secret was last used');
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await expectNoAxeViolations(page);
  // Cancel hands focus back to the Actions button and changes nothing.
  await press(page, 'Escape', actionsButton(page, name));
  expect(await apiStatus(page, token.secret)).toBe(200);

  await press(page, 'Enter', item('Edit token'));
  await page.keyboard.type('e'); // type-ahead: the next item after "Edit token" starting with E
  await expect(item('End grace period now')).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await press(page, 'Tab', confirm.getByRole('button', { name: 'End grace period now' }));
  await page.keyboard.press('Enter');
  await expect(pageStatus(page)).toContainText(`Ended the grace period of ${name}: its old secret no longer works`);
  await expect(confirm).toBeHidden();
  await expect(actionsButton(page, name)).toBeFocused();
  await expect(row(page, name).locator('.grace-line')).toHaveCount(0);
  expect(await apiStatus(page, token.secret)).toBe(401);
  expect(await apiStatus(page, fresh)).toBe(200);
  await actionsButton(page, name).press('Enter');
  await expect(item('End grace period now')).toHaveCount(0);
});

test('the name leads to the details page with the token and its recent uses', async ({ page }, testInfo) => {
  test.slow();
  const tag = uniqueTag(testInfo);
  const name = `${tag} details`;
  await signInAs(page, OWNER);
  const token = await seedToken(page, name, { description: 'Used by the nightly export' });
  expect(await apiStatus(page, token.secret, 'nightly-export/2.1')).toBe(200);
  await resetWithGrace(page, token);
  await openList(page, tag);
  // (Its row header is the name and the description.)
  await tokensTable(page).getByRole('link', { name, exact: true }).click();

  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`/settings/authorization/tokens/${token.id}$`));
  await expect(page.getByText('Used by the nightly export')).toBeVisible();
  const uses = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: 'IP address' }) });
  await expect(async () => {
    await page.reload();
    await expect(uses.getByRole('row').nth(1), 'a recorded use').toContainText('nightly-export/2.1', { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await expect(uses.getByRole('row').nth(1)).toContainText('127.0.0.1');
  await expect(page.locator('.details-list .details-wide')).toContainText(/^Old secretValid until .+ UTC, not used since the reset$/);
  await expect(page.getByRole('link', { name: 'End grace period now' })).toBeVisible();
  await expectNoAxeViolations(page);

  // Its actions work from here; the breadcrumb leads back.
  await page.getByRole('link', { name: 'End grace period now' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'End grace period?' })).toBeVisible();
  await page.getByRole('button', { name: 'End grace period now' }).click();
  await expect(pageStatus(page)).toContainText(`Ended the grace period of ${name}`);
  expect(await apiStatus(page, token.secret)).toBe(401);
  await page.goto(`${LIST_URL}/tokens/${token.id}`);
  await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Authorization' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
});

test.describe('narrow', () => {
  test.use({ viewport: { width: 375, height: 800 } });

  test('the grace line and the details page fit a phone', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} phone`;
    await signInAs(page, OWNER);
    const token = await seedToken(page, name);
    await resetWithGrace(page, token);
    await openList(page, tag);
    await expect(row(page, name).locator('.grace-line')).toBeVisible();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await page.goto(`${LIST_URL}/tokens/${token.id}`);
    await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
    const detailsOverflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(detailsOverflow).toBeLessThanOrEqual(0);
    await expectNoAxeViolations(page);
  });
});

test.describe('without the page scripts', () => {
  test.beforeEach(async ({ page }) => {
    await page.route(/\/static\/.*\.js(\?.*)?$/, (route) => route.abort());
  });

  test('End grace period now is a link, a confirmation page and a post', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} nojs`;
    await signInAs(page, OWNER);
    const token = await seedToken(page, name);
    const fresh = await resetWithGrace(page, token);
    await openList(page, tag);
    const details = row(page, name).locator('details');
    await details.locator('summary').click();
    await details.getByRole('link', { name: 'End grace period now' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'End grace period?' })).toBeVisible();
    await expect(page.getByText('No use of the old secret has been recorded since the reset')).toBeVisible();
    await expectNoAxeViolations(page);
    await page.getByRole('button', { name: 'End grace period now' }).click();
    await expect(pageStatus(page)).toContainText(`Ended the grace period of ${name}`);
    await openList(page, tag);
    await expect(row(page, name).locator('.grace-line')).toHaveCount(0);
    expect(await apiStatus(page, token.secret)).toBe(401);
    expect(await apiStatus(page, fresh)).toBe(200);
  });
});
