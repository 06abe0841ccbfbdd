import { expect, test, type Locator, type Page } from '@playwright/test';
import { OWNER, PASSWORD, expectNoAxeViolations, signIn } from './fixtures';
import {
  actionsButton,
  chooseFromMenu,
  expectFocusNotOnBody,
  menuFor,
  openList,
  pageStatus,
  seedToken,
  signInAs,
  uniqueTag,
} from './tokens-helpers';

/**
 * The Members page and the audit log. The specs share one server, so each
 * test adds its own member rather than changing the shared ones.
 */

const MEMBERS_URL = '/settings/members';

async function press(page: Page, key: string, expected: Locator) {
  await page.keyboard.press(key);
  await expect(expected, `focus after ${key}`).toBeFocused();
  await expectFocusNotOnBody(page, key);
}

function membersTable(page: Page): Locator {
  return page.getByRole('table', { name: 'Members' });
}

function memberRow(page: Page, email: string): Locator {
  return membersTable(page)
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: email }) });
}

/** Adds a member through the "Add a member" dialog, by keyboard. */
async function addMember(page: Page, email: string, role: string) {
  await page.goto(MEMBERS_URL);
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  const add = page.getByRole('button', { name: 'Add member' });
  await add.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Add a member' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Email')).toBeFocused();
  await expectNoAxeViolations(page);
  await page.keyboard.type(email);
  await dialog.getByRole('radio', { name: role, exact: true }).check();
  await dialog.getByLabel('Initial password').fill(PASSWORD);
  await dialog.getByLabel('Initial password').press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  await expect(pageStatus(page)).toContainText(`Added ${email} as ${role}`);
  await expect(memberRow(page, email)).toBeVisible();
}

/** What the API says to `secret` now: the caller-identity status and role. */
async function identity(page: Page, secret: string): Promise<[number, string | undefined]> {
  const res = await page.request.get('/api/v2/caller-identity', {
    headers: { Authorization: secret },
  });
  const role = res.ok() ? (await res.json()).role : undefined;
  return [res.status(), role];
}

test.describe('members', () => {
  test('change a role and remove a member by keyboard; their token follows at once', async ({ page, browser }, testInfo) => {
    test.slow(); // two browsers, many steps and axe runs on a debug build
    const tag = uniqueTag(testInfo);
    const email = `${tag}@e2e.test`;
    await signInAs(page, OWNER);
    await addMember(page, email, 'Admin');

    // The new member signs in elsewhere and makes an Admin token.
    const theirs = await browser.newContext();
    const theirPage = await theirs.newPage();
    await signIn(theirPage, email);
    await expect(theirPage.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
    const token = await seedToken(theirPage, `${tag} script`, { role: 'admin' });
    expect(await identity(page, token.secret)).toEqual([200, 'admin']);

    // Change role: the menu, the dialog, the radios, all by keyboard.
    await page.goto(MEMBERS_URL);
    const button = actionsButton(page, email);
    await button.focus();
    const menu = menuFor(page, email);
    await press(page, 'Enter', menu.getByRole('menuitem', { name: 'Change role' }));
    await expect(menu.getByRole('menuitem')).toHaveText(['Change role', 'Remove member']);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: `Change role for ${email}?` });
    await expect(dialog).toBeVisible();
    // Focus starts on the current role.
    await expect(dialog.getByRole('radio', { name: 'Admin', exact: true })).toBeFocused();
    await expectNoAxeViolations(page);
    // Lowest role first, as in the token form: up is down the ladder.
    await press(page, 'ArrowUp', dialog.getByRole('radio', { name: 'Writer', exact: true }));
    await press(page, 'ArrowUp', dialog.getByRole('radio', { name: 'Reader', exact: true }));
    await expect(dialog.getByRole('radio', { name: 'Reader', exact: true })).toBeChecked();
    await press(page, 'Tab', dialog.getByRole('button', { name: 'Cancel' }));
    await press(page, 'Tab', dialog.getByRole('button', { name: 'Change role' }));
    await page.keyboard.press('Enter');
    await expect(dialog).toBeHidden();
    await expect(pageStatus(page)).toHaveText(`Changed ${email} from Admin to Reader`);
    await expect(memberRow(page, email).getByRole('cell').first()).toHaveText('Reader');
    // Focus is back on the member's actions button.
    await expect(actionsButton(page, email)).toBeFocused();

    // The very next API request acts as Reader: reading works, managing is 403.
    expect(await identity(page, token.secret)).toEqual([200, 'reader']);
    const create = await page.request.post('/api/v2/tokens', {
      headers: { Authorization: token.secret },
      data: { name: `${tag} refused` },
    });
    expect(create.status()).toBe(403);

    // Remove: the alert dialog says what stops working; Cancel is first.
    await press(page, 'ArrowDown', menu.getByRole('menuitem', { name: 'Change role' }));
    await press(page, 'End', menu.getByRole('menuitem', { name: 'Remove member' }));
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('alertdialog', { name: `Remove ${email}?` });
    await expect(confirm).toBeVisible();
    await expect(confirm).toContainText('Their 1 personal token will stop working');
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await expectNoAxeViolations(page);
    await press(page, 'Tab', confirm.getByRole('button', { name: 'Remove member' }));
    await page.keyboard.press('Enter');
    await expect(memberRow(page, email)).toHaveCount(0);
    await expect(pageStatus(page)).toHaveText(`Removed ${email}; 1 personal token stopped working`);
    await expectFocusNotOnBody(page, 'removing');

    // Their token answers 401 at once, and their session is over.
    expect((await identity(page, token.secret))[0]).toBe(401);
    await theirPage.goto('/settings/authorization');
    await expect(theirPage.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
    await theirs.close();
  });
});

test.describe('audit log', () => {
  test('lists create, clone, reset and delete with actor and source, from the row menu', async ({ page }, testInfo) => {
    test.slow();
    const tag = uniqueTag(testInfo);
    const name = `${tag} audited`;
    await signInAs(page, OWNER);
    await seedToken(page, name);
    await openList(page, tag);

    await chooseFromMenu(page, name, 'Clone token');
    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(secretDialog).toBeVisible();
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await expect(secretDialog).toBeHidden();

    await chooseFromMenu(page, name, 'Reset token');
    const reset = page.getByRole('dialog', { name: 'Reset token?' });
    await reset.getByRole('textbox', { name: /Type the token's name/ }).fill(name);
    await reset.getByRole('button', { name: 'Reset token' }).click();
    const resetSecret = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(resetSecret).toBeVisible();
    await resetSecret.getByRole('button', { name: 'Done' }).click();

    // "View audit log" in the row's menu opens the log narrowed to it.
    await chooseFromMenu(page, name, 'View audit log');
    await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
    await expect(page.getByRole('heading', { level: 2, name: `Events for ${name}` })).toBeVisible();
    const filteredUrl = page.url();
    expect(new URL(filteredUrl).searchParams.get('token')).toBeTruthy();
    await expect(page.getByLabel('Token ID')).toHaveValue(new URL(filteredUrl).searchParams.get('token')!);
    const events = page.getByRole('table', { name: 'Audit events' });
    const rows = events.getByRole('row');
    // Header row plus three events, newest first.
    await expect(rows).toHaveCount(4);
    const actionCells = events.locator('tbody tr td:nth-child(2)');
    await expect(actionCells).toHaveText(['Token reset', 'Token cloned', 'Token created']);
    await expect(events.locator('tbody tr td:nth-child(3)')).toHaveText([OWNER, OWNER, OWNER]);
    const cloneRow = events.locator('tbody tr').nth(1);
    await expect(cloneRow).toContainText(`${name} (copy)`);
    await expect(cloneRow).toContainText(`Cloned from ${name}`);
    for (const time of await events.locator('tbody time').all()) {
      await expect(time).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT/);
    }
    await expectNoAxeViolations(page);

    // Delete it; the log keeps its name, no longer as a link.
    await openList(page, tag);
    await chooseFromMenu(page, name, 'Delete token');
    const confirm = page.getByRole('alertdialog', { name: 'Delete token?' });
    await confirm.getByRole('button', { name: 'Delete token' }).click();
    await expect(pageStatus(page)).toHaveText(`Deleted ${name}`);
    await page.goto(filteredUrl);
    await expect(actionCells).toHaveText(['Token deleted', 'Token reset', 'Token cloned', 'Token created']);
    await expect(events.locator('tbody tr').first().getByRole('link')).toHaveCount(0);
    // The clone still exists: its name links to its own events.
    const cloned = events.locator('tbody tr').nth(2);
    await expect(cloned.getByRole('link', { name: `Events for ${name} (copy)` })).toBeVisible();

    // Filter by action with the labelled control, without JavaScript needed.
    await page.getByLabel('Action').selectOption({ label: 'Token deleted' });
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect(actionCells).toHaveText(['Token deleted']);
    expect(new URL(page.url()).searchParams.get('action')).toBe('token_deleted');
  });
});

// axe needs JavaScript, so "without JavaScript" here blocks the page's own
// scripts (htmx, app.js): the same HTML, <details> menus and plain forms.
test.describe('members without the page scripts', () => {
  test.beforeEach(async ({ page }) => {
    await page.route(/\/static\/.*\.js(\?.*)?$/, (route) => route.abort());
  });

  test('add, change role and remove as plain pages and form posts', async ({ page }, testInfo) => {
    test.slow();
    const tag = uniqueTag(testInfo);
    const email = `${tag}-nojs@e2e.test`;
    await signInAs(page, OWNER);
    await page.goto(MEMBERS_URL);
    await page.getByRole('button', { name: 'Add member' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Add a member' })).toBeVisible();
    // A bad address and a short password: the form stays, marked.
    await page.getByLabel('Email').fill('not an address');
    await page.getByLabel('Initial password').fill('short');
    await page.getByRole('button', { name: 'Add member' }).click();
    await expect(page.getByLabel('Email')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByLabel('Initial password')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByLabel('Email')).toBeFocused();
    await expectNoAxeViolations(page);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Initial password').fill(PASSWORD);
    await page.getByRole('radio', { name: 'Writer', exact: true }).check();
    await page.getByRole('button', { name: 'Add member' }).click();
    await expect(pageStatus(page)).toContainText(`Added ${email} as Writer`);

    const details = page.locator('details').filter({
      has: page.locator('summary', { hasText: `Actions for ${email}` }),
    });
    await details.locator('summary').click();
    await details.getByRole('link', { name: 'Change role' }).click();
    await expect(page.getByRole('heading', { level: 1, name: `Change role for ${email}?` })).toBeVisible();
    await expectNoAxeViolations(page);
    await page.getByRole('radio', { name: 'Reader', exact: true }).check();
    await page.getByRole('button', { name: 'Change role' }).click();
    await expect(pageStatus(page)).toHaveText(`Changed ${email} from Writer to Reader`);
    await expect(memberRow(page, email).getByRole('cell').first()).toHaveText('Reader');

    await details.locator('summary').click();
    await details.getByRole('link', { name: 'Remove member' }).click();
    await expect(page.getByRole('heading', { level: 1, name: `Remove ${email}?` })).toBeVisible();
    await expect(page.getByRole('main')).toContainText('They have no personal tokens');
    await expectNoAxeViolations(page);
    await page.getByRole('button', { name: 'Remove member' }).click();
    await expect(pageStatus(page)).toHaveText(`Removed ${email}; 0 personal tokens stopped working`);
    await expect(memberRow(page, email)).toHaveCount(0);
  });
});

// A confirmation page opened on its own (a bookmark, a link from a token's
// details page) with the scripts running: its form posts plainly, and the
// list it lands on says what happened.
test('action pages opened directly post plainly with the scripts on', async ({ page }, testInfo) => {
  test.slow();
  const tag = uniqueTag(testInfo);
  const email = `${tag}-direct@e2e.test`;
  await signInAs(page, OWNER);
  await addMember(page, email, 'Reader');
  const remove = await memberRow(page, email).locator('a[href$="/remove"]').getAttribute('href');
  expect(remove).toMatch(/^\/settings\/members\/[0-9a-f]+\/remove$/);
  await page.goto(remove!);
  await expect(page.getByRole('heading', { level: 1, name: `Remove ${email}?` })).toBeVisible();
  await page.getByRole('button', { name: 'Remove member' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Members' })).toBeVisible();
  await expect(pageStatus(page)).toHaveText(`Removed ${email}; 0 personal tokens stopped working`);

  const token = await seedToken(page, `${tag} direct`);
  await page.goto(`/settings/authorization/tokens/${token.id}/delete`);
  await expect(page.getByRole('heading', { level: 1, name: 'Delete token?' })).toBeVisible();
  await page.getByRole('button', { name: 'Delete token' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
  await expect(pageStatus(page)).toHaveText(`Deleted ${tag} direct`);
});
