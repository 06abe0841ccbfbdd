import { expect, test, type Locator, type Page } from '@playwright/test';
import { OWNER, expectNoAxeViolations } from './fixtures';
import {
  actionsButton,
  expectFocusNotOnBody,
  menuFor,
  openList,
  pageStatus,
  row,
  seedToken,
  signInAs,
  uniqueTag,
} from './tokens-helpers';

/** Token hygiene on the Authorization page: suspend/resume and bulk delete. */

async function press(page: Page, key: string, expected: Locator) {
  await page.keyboard.press(key);
  await expect(expected, `focus after ${key}`).toBeFocused();
  await expectFocusNotOnBody(page, key);
}

async function apiStatus(page: Page, secret: string): Promise<number> {
  const res = await page.request.get('/api/v2/caller-identity', { headers: { Authorization: secret } });
  return res.status();
}

function selectBox(page: Page, name: string): Locator {
  return page.getByRole('checkbox', { name: `Select ${name}`, exact: true });
}

test('suspend and resume from the row menu by keyboard; the secret follows at once', async ({ page }, testInfo) => {
  test.slow();
  const tag = uniqueTag(testInfo);
  const name = `${tag} paused`;
  await signInAs(page, OWNER);
  const token = await seedToken(page, name);
  await openList(page, tag);
  expect(await apiStatus(page, token.secret)).toBe(200);

  const menu = menuFor(page, name);
  await actionsButton(page, name).focus();
  await press(page, 'Enter', menu.getByRole('menuitem', { name: 'Edit token' }));
  await page.keyboard.type('s'); // type-ahead to "Suspend token"
  await expect(menu.getByRole('menuitem', { name: 'Suspend token' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(pageStatus(page)).toContainText(`Suspended ${name}`);
  await expect(row(page, name)).toContainText('Suspended');
  await expect(actionsButton(page, name)).toBeFocused();
  expect(await apiStatus(page, token.secret)).toBe(401);
  await expectNoAxeViolations(page);

  await press(page, 'Enter', menu.getByRole('menuitem', { name: 'Edit token' }));
  await page.keyboard.type('r');
  await page.keyboard.type('r'); // "Reset token", then "Resume token"
  await expect(menu.getByRole('menuitem', { name: 'Resume token' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(pageStatus(page)).toContainText(`Resumed ${name}`);
  await expect(row(page, name).locator('.badge-warning')).toHaveCount(0);
  expect(await apiStatus(page, token.secret)).toBe(200);
});

test('select tokens and delete them together, confirming first, by keyboard', async ({ page }, testInfo) => {
  test.slow();
  const tag = uniqueTag(testInfo);
  const names = [`${tag} a`, `${tag} b`, `${tag} c`];
  await signInAs(page, OWNER);
  const seeded = [];
  for (const name of names) seeded.push(await seedToken(page, name));
  await seedToken(page, `${tag} kept`);
  await openList(page, tag);

  for (const name of names) {
    await selectBox(page, name).focus();
    await page.keyboard.press('Space');
    await expect(selectBox(page, name)).toBeChecked();
  }
  await page.getByRole('button', { name: 'Delete selected tokens' }).focus();
  await page.keyboard.press('Enter');
  const confirm = page.getByRole('alertdialog', { name: 'Delete 3 tokens?' });
  await expect(confirm).toBeVisible();
  for (const name of names) await expect(confirm).toContainText(name);
  await expect(confirm).not.toContainText(`${tag} kept`);
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await expectNoAxeViolations(page);
  await press(page, 'Tab', confirm.getByRole('button', { name: 'Delete 3 tokens' }));
  await page.keyboard.press('Enter');
  await expect(pageStatus(page)).toHaveText('Deleted 3 tokens');
  for (const name of names) await expect(row(page, name)).toHaveCount(0);
  await expect(row(page, `${tag} kept`)).toHaveCount(1);
  await expectFocusNotOnBody(page, 'bulk delete');
  for (const token of seeded) expect(await apiStatus(page, token.secret)).toBe(401);
});

test.describe('without the page scripts', () => {
  test.beforeEach(async ({ page }) => {
    await page.route(/\/static\/.*\.js(\?.*)?$/, (route) => route.abort());
  });

  test('bulk delete is a form, a confirmation page and a post', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    await signInAs(page, OWNER);
    await seedToken(page, `${tag} one`);
    await seedToken(page, `${tag} two`);
    await openList(page, tag);
    await selectBox(page, `${tag} one`).check();
    await selectBox(page, `${tag} two`).check();
    await page.getByRole('button', { name: 'Delete selected tokens' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Delete 2 tokens?' })).toBeVisible();
    await expectNoAxeViolations(page);
    await page.getByRole('button', { name: 'Delete 2 tokens' }).click();
    await expect(pageStatus(page)).toHaveText('Deleted 2 tokens');
    await openList(page, tag);
    await expect(row(page, `${tag} one`)).toHaveCount(0);
    await expect(row(page, `${tag} two`)).toHaveCount(0);
  });
});

test('sort by a column header by keyboard, in the URL, announced by aria-sort', async ({ page }, testInfo) => {
  const tag = uniqueTag(testInfo);
  await signInAs(page, OWNER);
  await seedToken(page, `${tag} first`);
  await seedToken(page, `${tag} second`);
  await openList(page, tag);
  const table = page.getByRole('table', { name: 'Access tokens' });
  await expect(table.getByRole('columnheader', { name: 'Name' })).toHaveAttribute('aria-sort', 'ascending');
  const created = table.getByRole('link', { name: 'Created', exact: true });
  await created.focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/sort=-created/);
  await expect(table.getByRole('columnheader', { name: 'Created' })).toHaveAttribute('aria-sort', 'descending');
  await expect(table.getByRole('columnheader', { name: 'Name' })).not.toHaveAttribute('aria-sort', /.+/);
  // Newest first; the search is kept.
  await expect(table.getByRole('rowheader')).toHaveText([`${tag} second`, `${tag} first`]);
  await expect(page.getByLabel('Search by name')).toHaveValue(tag);
  await expect(page.getByLabel('Sort by')).toHaveValue('-created');
  await expectNoAxeViolations(page);

  // Fresh tokens are not stale.
  await page.getByLabel('Not used in').selectOption({ label: '30 days' });
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/unused=30/);
  await expect(page.getByRole('heading', { name: 'No tokens match' })).toBeVisible();
});
