import { expect, test, type Page } from '@playwright/test';
import { ADMIN, OWNER, expectNoAxeViolations } from './fixtures';
import {
  LIST_URL,
  SECRET_PAT,
  openList,
  pageStatus,
  row,
  rowNames,
  seedToken,
  signInAs,
  tokenCell,
  uniqueTag,
} from './tokens-helpers';

/** Without JavaScript the row menu is a <details> disclosure. */
function disclosure(page: Page, name: string) {
  return page.locator('details').filter({
    has: page.locator('summary', { hasText: `Actions for ${name}` }),
  });
}

async function openDisclosure(page: Page, name: string) {
  const details = disclosure(page, name);
  await expect(details).toHaveCount(1);
  await details.locator('summary').click();
  await expect(details).toHaveAttribute('open', '');
  return details;
}

/** The inline "Copy your new token" panel after a redirect; returns its secret. */
async function expectSecretPanel(page: Page): Promise<string> {
  const panel = page.getByRole('region', { name: 'Copy your new token' });
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('only time this token is shown');
  const field = panel.getByRole('textbox', { name: 'New access token' });
  await expect(field).not.toBeEditable();
  const secret = await field.inputValue();
  expect(secret).toMatch(SECRET_PAT);
  return secret;
}

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('create on its own page, see the secret once, then delete through the disclosure', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} plain form`;
    await signInAs(page, OWNER);
    await openList(page, tag);

    await page.getByRole('button', { name: 'Create token' }).click();
    await expect(page).toHaveURL(/\/settings\/authorization\/tokens\/new\??$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Create an access token' })).toBeVisible();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
    await page.getByRole('group', { name: 'Role' }).getByRole('radio', { name: 'Writer', exact: true }).check();

    const listResponse = page.waitForResponse(
      (r) => new URL(r.url()).pathname === LIST_URL && r.request().method() === 'GET',
    );
    await page.getByRole('button', { name: 'Save token' }).click();
    const shown = await listResponse;
    await expect(page).toHaveURL(new RegExp(`${LIST_URL}(\\?.*)?$`));
    // The page that carries the secret is never cached.
    expect(shown.headers()['cache-control']).toContain('no-store');
    const secret = await expectSecretPanel(page);
    await expect(pageStatus(page)).toHaveText(`Created token ${name}. Copy its secret now.`);
    await expect(page.getByRole('link', { name: 'Done' })).toBeVisible();
    expect(page.url()).not.toContain(secret);

    // Shown once: reloading does not bring it back.
    await page.reload();
    await expect(page.getByRole('region', { name: 'Copy your new token' })).toHaveCount(0);
    expect(await page.content()).not.toContain(secret);

    // Delete through the row's disclosure.
    await openList(page, tag);
    const details = await openDisclosure(page, name);
    await details.getByRole('link', { name: 'Delete token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Delete token?' })).toBeVisible();
    await expect(page.getByRole('main')).toContainText(name);
    await expect(page.getByRole('main')).toContainText('401 Unauthorized');
    await expect(page.getByRole('link', { name: 'Cancel' })).toBeVisible();
    await page.getByRole('button', { name: 'Delete token' }).click();

    await expect(page).toHaveURL(new RegExp(`${LIST_URL}(\\?.*)?$`));
    await expect(pageStatus(page)).toHaveText(`Deleted ${name}`);
    await expect(row(page, name)).toHaveCount(0);
    await openList(page, tag);
    await expect(row(page, name)).toHaveCount(0);
  });

  test('an empty name keeps the form, marked and focused, and stores nothing', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    await signInAs(page, ADMIN);
    await page.goto('/settings/authorization/tokens/new');
    await page.getByRole('textbox', { name: 'Description' }).fill(`${tag} kept`);
    await page.getByRole('button', { name: 'Save token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Create an access token' })).toBeVisible();
    const nameField = page.getByRole('textbox', { name: 'Name', exact: true });
    await expect(nameField).toHaveAttribute('aria-invalid', 'true');
    await expect(nameField).toHaveAccessibleDescription(/Enter a name for the token/);
    await expect(nameField).toBeFocused();
    await expect(page.getByRole('textbox', { name: 'Description' })).toHaveValue(`${tag} kept`);
  });

  test('clone through the disclosure shows the copy\'s secret', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} origin`;
    await signInAs(page, OWNER);
    const seeded = await seedToken(page, name);
    await openList(page, tag);
    const details = await openDisclosure(page, name);
    await details.getByRole('button', { name: 'Clone token' }).click();

    const secret = await expectSecretPanel(page);
    expect(secret).not.toBe(seeded.secret);
    await expect(pageStatus(page)).toContainText(`Cloned token as ${name} (copy)`);
    await openList(page, tag);
    expect(await rowNames(page)).toEqual([name, `${name} (copy)`]);
    expect(await page.content()).not.toContain(secret);
  });

  test('edit and reset work as plain pages', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} old name`;
    const renamed = `${tag} new name`;
    await signInAs(page, ADMIN);
    const seeded = await seedToken(page, name);
    await openList(page, tag);

    await (await openDisclosure(page, name)).getByRole('link', { name: 'Edit token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Edit token' })).toBeVisible();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill(renamed);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect(pageStatus(page)).toHaveText(`Saved changes to ${renamed}`);

    await openList(page, tag);
    await expect(row(page, renamed)).toHaveCount(1);
    await (await openDisclosure(page, renamed)).getByRole('link', { name: 'Reset token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Reset token?' })).toBeVisible();
    const grace = page.getByRole('group', { name: 'Keep the old secret working for' });
    await grace.getByRole('radio', { name: '1 hour' }).check();
    await page.getByRole('textbox', { name: /Type the token's name/ }).fill(renamed);
    await page.getByRole('button', { name: 'Reset token' }).click();

    const secret = await expectSecretPanel(page);
    expect(secret).not.toBe(seeded.secret);
    await expect(pageStatus(page)).toContainText(`Reset ${renamed}. The old secret keeps working for 1 hour`);
    await openList(page, tag);
    await expect(tokenCell(row(page, renamed))).toContainText(secret.slice(-4));
  });

  test('reset refuses a mistyped name and changes nothing', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} careful`;
    await signInAs(page, ADMIN);
    const seeded = await seedToken(page, name);
    await openList(page, tag);
    await (await openDisclosure(page, name)).getByRole('link', { name: 'Reset token' }).click();
    const confirmName = page.getByRole('textbox', { name: /Type the token's name/ });
    await confirmName.fill(`${name} typo`);
    await page.getByRole('button', { name: 'Reset token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Reset token?' })).toBeVisible();
    await expect(page.getByRole('alert')).toBeVisible();
    await expect(confirmName).toHaveAttribute('aria-invalid', 'true');
    await expect(confirmName).toBeFocused();
    await openList(page, tag);
    await expect(tokenCell(row(page, name))).toContainText(seeded.secret.slice(-4));
  });
});

// axe needs JavaScript to run, so the no-JavaScript states are checked with
// the page's own scripts (htmx, app.js) blocked instead: the same HTML, the
// same <details> menus and plain-form pages, with axe able to run.
test.describe('without the page scripts, each state is accessible', () => {
  test.beforeEach(async ({ page }) => {
    await page.route(/\/static\/.*\.js(\?.*)?$/, (route) => route.abort());
  });

  test('the create page, its errors and the secret panel', async ({ page }, testInfo) => {
    test.slow(); // several axe runs on a debug build
    const tag = uniqueTag(testInfo);
    await signInAs(page, OWNER);
    await openList(page, tag);
    // The scripts really are off: the menus stay disclosures, actions are pages.
    await page.getByRole('button', { name: 'Create token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Create an access token' })).toBeVisible();
    await expectNoAxeViolations(page);
    await page.getByRole('button', { name: 'Save token' }).click();
    await expect(page.getByRole('textbox', { name: 'Name', exact: true })).toHaveAttribute('aria-invalid', 'true');
    await expectNoAxeViolations(page);
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill(`${tag} audited`);
    await page.getByRole('button', { name: 'Save token' }).click();
    await expectSecretPanel(page);
    await expectNoAxeViolations(page);
  });

  test('the open disclosure, the reset page and the delete page', async ({ page }, testInfo) => {
    test.slow(); // several axe runs on a debug build
    const tag = uniqueTag(testInfo);
    const name = `${tag} audited`;
    await signInAs(page, OWNER);
    await seedToken(page, name);
    await openList(page, tag);
    await expect(page.getByRole('button', { name: /^Actions for / })).toHaveCount(0);
    const details = await openDisclosure(page, name);
    await expectNoAxeViolations(page);
    await details.getByRole('link', { name: 'Reset token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Reset token?' })).toBeVisible();
    await expectNoAxeViolations(page);

    await openList(page, tag);
    await (await openDisclosure(page, name)).getByRole('link', { name: 'Delete token' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Delete token?' })).toBeVisible();
    await expectNoAxeViolations(page);
    await page.getByRole('button', { name: 'Delete token' }).click();
    await expect(pageStatus(page)).toHaveText(`Deleted ${name}`);
  });
});
