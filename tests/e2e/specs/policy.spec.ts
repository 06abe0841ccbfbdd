import { expect, test, type Page } from '@playwright/test';
import { ADMIN, OWNER, WRITER, expectNoAxeViolations, signIn } from './fixtures';
import { LIST_URL, pageStatus, signInAs, uniqueTag } from './tokens-helpers';

/**
 * The Token policy page. A maximum lifetime binds every create on the one
 * server all specs share, and the other specs create tokens that never
 * expire, so this spec runs on its own: playwright.config.ts puts it in the
 * "policy" project, which runs after every other spec has finished, one
 * test at a time. Each test still puts "No limit" back before it ends,
 * whatever happened (`finally`), so a failure here cannot leak a limit into
 * a later run against the same server.
 */

const POLICY_URL = '/settings/policy';
const LIFETIME = 'Maximum lifetime for new tokens';

/** Puts "No limit" back with a plain post, as the signed-in Owner. */
async function resetPolicy(page: Page) {
  const html = await (await page.request.get(POLICY_URL)).text();
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(html)?.[1];
  expect(csrf, 'a CSRF token on the Token policy page').toBeTruthy();
  const res = await page.request.post(POLICY_URL, {
    form: { csrf_token: csrf!, max_lifetime: 'none' },
    maxRedirects: 0,
  });
  expect(res.status(), 'resetting the token policy').toBe(303);
}

async function openPolicy(page: Page) {
  await page.goto(POLICY_URL);
  await expect(page.getByRole('heading', { level: 1, name: 'Token policy' })).toBeVisible();
  await expect(
    page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Token policy' }),
  ).toHaveAttribute('aria-current', 'page');
}

test.describe('token policy', () => {
  test('an Owner sets a limit by keyboard; the create form follows it; No limit again', async ({ page }, testInfo) => {
    test.slow(); // several pages and axe runs on a debug build
    await signInAs(page, OWNER);
    try {
      await openPolicy(page);
      const lifetime = page.getByLabel(LIFETIME);
      await expect(lifetime).toHaveValue('none');
      await expect(lifetime).toHaveAccessibleDescription(/Tokens that exist keep the expiry they have/);
      await expectNoAxeViolations(page);

      // Keyboard only: type-ahead in the select, Tab to Save, Enter.
      await lifetime.focus();
      await page.keyboard.press('9');
      await expect(lifetime).toHaveValue('90');
      await page.keyboard.press('Tab');
      const save = page.getByRole('button', { name: 'Save' });
      await expect(save).toBeFocused();
      await page.keyboard.press('Enter');
      await expect(pageStatus(page)).toHaveText('Saved: new tokens must now expire within 90 days');
      // htmx swapped nothing else: focus stays where it was.
      await expect(save).toBeFocused();
      await expect(page).toHaveURL(new RegExp(`${POLICY_URL}$`));
      await expectNoAxeViolations(page);

      // The create form says the limit and suggests an expiry within it.
      await page.goto(LIST_URL);
      await page.getByRole('button', { name: 'Create token' }).first().click();
      const dialog = page.getByRole('dialog', { name: 'Create an access token' });
      await expect(dialog).toBeVisible();
      const expires = dialog.getByLabel('Expires');
      await expect(expires).toHaveAccessibleDescription(/Your organization allows at most 90 days/);
      await expect(expires).not.toHaveValue('');
      await expectNoAxeViolations(page);

      // A token that never expires is refused, with the limit named.
      const name = `${uniqueTag(testInfo)} forever`;
      await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
      await expires.fill('');
      await dialog.getByRole('button', { name: 'Save token' }).click();
      const error = dialog.locator('#token-expires-error');
      await expect(error).toContainText('your organization requires new tokens to expire within 90 days');
      await expect(dialog.getByLabel('Expires')).toBeFocused();
      await expect(dialog.getByLabel('Expires')).toHaveAttribute('aria-invalid', 'true');
      await expectNoAxeViolations(page);
      await page.keyboard.press('Escape');
      await expect(dialog).toBeHidden();

      // Back to No limit, by keyboard again.
      await openPolicy(page);
      await expect(lifetime).toHaveValue('90');
      await lifetime.focus();
      await page.keyboard.press('n');
      await expect(lifetime).toHaveValue('none');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await expect(pageStatus(page)).toHaveText('Saved: new tokens have no maximum lifetime now');
    } finally {
      await resetPolicy(page);
    }
  });

  test('Admins see the policy read-only; Writers get 403', async ({ page, browser }) => {
    await signInAs(page, ADMIN);
    await openPolicy(page);
    const setting = page.getByRole('definition');
    await expect(setting).toHaveText('No limit');
    await expect(page.getByText('Only Owners can change the token policy.')).toBeVisible();
    await expect(page.getByRole('combobox')).toHaveCount(0);
    await expect(page.getByRole('button', { name: 'Save' })).toHaveCount(0);
    await expectNoAxeViolations(page);

    const writer = await browser.newContext();
    const writerPage = await writer.newPage();
    await signIn(writerPage, WRITER);
    await expect(writerPage.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
    const res = await writerPage.goto(POLICY_URL);
    expect(res?.status()).toBe(403);
    await expect(writerPage.getByRole('heading', { level: 1, name: 'Token policy' })).toBeVisible();
    await expect(writerPage.getByText('Only Admins and Owners can see the token policy.')).toBeVisible();
    await expectNoAxeViolations(writerPage);
    await writer.close();
  });

  test.describe('without JavaScript', () => {
    test.use({ javaScriptEnabled: false });

    test('save with a plain post and see the message once; the create page says the limit', async ({ page }) => {
      await signInAs(page, OWNER);
      try {
        await openPolicy(page);
        await page.getByLabel(LIFETIME).selectOption({ label: '30 days' });
        await page.getByRole('button', { name: 'Save' }).click();
        await expect(page).toHaveURL(new RegExp(`${POLICY_URL}$`));
        await expect(pageStatus(page)).toHaveText('Saved: new tokens must now expire within 30 days');
        await expect(page.getByLabel(LIFETIME)).toHaveValue('30');

        await page.goto(`${LIST_URL}/tokens/new`);
        const expires = page.getByLabel('Expires');
        await expect(expires).toHaveAccessibleDescription(/Your organization allows at most 30 days/);
        await expect(expires).not.toHaveValue('');

        await openPolicy(page);
        await expect(pageStatus(page)).toHaveText('');
        await page.getByLabel(LIFETIME).selectOption({ label: 'No limit' });
        await page.getByRole('button', { name: 'Save' }).click();
        await expect(pageStatus(page)).toHaveText('Saved: new tokens have no maximum lifetime now');
      } finally {
        await resetPolicy(page);
      }
    });
  });

  // axe needs JavaScript, so the state after a plain post is checked with
  // the page's own scripts (htmx, app.js) blocked instead, as in
  // tokens-nojs.spec.ts: the same HTML and form post, with axe able to run.
  test.describe('without the page scripts', () => {
    test.beforeEach(async ({ page }) => {
      await page.route(/\/static\/.*\.js(\?.*)?$/, (route) => route.abort());
    });

    test('the page after a plain post is accessible', async ({ page }) => {
      await signInAs(page, OWNER);
      try {
        await openPolicy(page);
        await page.getByLabel(LIFETIME).selectOption({ label: '7 days' });
        await page.getByRole('button', { name: 'Save' }).click();
        await expect(pageStatus(page)).toHaveText('Saved: new tokens must now expire within 7 days');
        await expectNoAxeViolations(page);
      } finally {
        await resetPolicy(page);
      }
    });
  });
});
