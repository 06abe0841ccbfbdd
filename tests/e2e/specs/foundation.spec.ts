import { expect, test } from '@playwright/test';
import {
  ADMIN,
  OWNER,
  PASSWORD,
  READER,
  expectNoAxeViolations,
  expectNoHorizontalScroll,
  signIn,
} from './fixtures';

test.describe('sign-in', () => {
  test('the sign-in page is accessible', async ({ page }) => {
    await page.goto('/login');
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
    await expect(page.getByRole('main')).toBeVisible();
    await expect(page.getByRole('banner')).toBeVisible();
    await expectNoAxeViolations(page);
  });

  test('a wrong password says so, keeps the email and stays accessible', async ({ page }) => {
    await signIn(page, ADMIN, 'not-the-password');
    await expect(page.getByRole('alert')).toHaveText('Invalid email or password');
    await expect(page.getByLabel('Email')).toHaveValue(ADMIN);
    await expect(page.getByLabel('Password')).toHaveValue('');
    await expect(page.getByLabel('Password')).toBeFocused();
    await expectNoAxeViolations(page);
  });

  test('sign in, reach Authorization by the sidebar, sign out', async ({ page }) => {
    await signIn(page, OWNER);
    await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();

    // Start from another page so the sidebar link really navigates.
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Audit log' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
    await page.getByRole('link', { name: 'Organization settings' }).click();
    await expect(page).toHaveURL(/\/settings\/authorization$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
    await expect(
      page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Authorization' }),
    ).toHaveAttribute('aria-current', 'page');
    await expect(page.getByRole('table', { name: 'Access tokens' })).toBeVisible();
    for (const column of ['Name', 'Role', 'Type', 'Member', 'Token', 'Created', 'Last used', 'Expires', 'Actions']) {
      await expect(page.getByRole('columnheader', { name: column })).toHaveCount(1);
    }
    await expectNoAxeViolations(page);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
    await expect(page.getByRole('status')).toHaveText('You have signed out.');

    // The old session is gone: the settings page asks to sign in again.
    await page.goto('/settings/authorization');
    await expect(page).toHaveURL(/\/login\?next=%2Fsettings%2Fauthorization$/);
  });

  test('after signing in, the member returns to the page they asked for', async ({ page }) => {
    await page.goto('/settings/audit');
    await expect(page).toHaveURL(/\/login\?next=/);
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/settings\/audit$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Audit log' })).toBeVisible();
    await expect(page.getByRole('table', { name: 'Audit events' })).toContainText('Signed in');
    await expectNoAxeViolations(page);
  });

  test('a Reader is told the audit log is for Admins', async ({ page }) => {
    await signIn(page, READER);
    await page.goto('/settings/audit');
    await expect(page.getByText('Only Admins and Owners can view the audit log.')).toBeVisible();
    await expectNoAxeViolations(page);
  });
});

test.describe('keyboard', () => {
  test('the skip link is the first stop and moves focus to main', async ({ page }) => {
    await signIn(page, OWNER);
    await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to main content' });
    await expect(skip).toBeFocused();
    await expect(skip).toBeVisible();
    await page.keyboard.press('Enter');
    await expect(page.locator('main')).toBeFocused();
  });

  test('sign in with the keyboard alone', async ({ page }) => {
    await page.goto('/login');
    await expect(page.getByLabel('Email')).toBeFocused();
    await page.keyboard.type(OWNER);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
  });
});

test.describe('narrow screens', () => {
  test.use({ viewport: { width: 320, height: 640 } });

  test('sign-in and settings fit 320 px without sideways scrolling', async ({ page }) => {
    await page.goto('/login');
    await expectNoHorizontalScroll(page);
    await signIn(page, OWNER);
    await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
    await expectNoHorizontalScroll(page);
    await expectNoAxeViolations(page);
    await page.goto('/settings/audit');
    await expectNoHorizontalScroll(page);
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('sign in and sign out work as plain forms', async ({ page }) => {
    await signIn(page, OWNER);
    await expect(page.getByRole('heading', { level: 1, name: 'Authorization' })).toBeVisible();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  });
});
