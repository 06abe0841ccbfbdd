import { expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';

/** Every member start-server.sh creates shares this password. */
export const PASSWORD = 'correct-horse-battery-staple';

export const OWNER = 'owner@e2e.test';
export const ADMIN = 'admin@e2e.test';
export const WRITER = 'writer@e2e.test';
export const READER = 'reader@e2e.test';

/** Signs in through the form, by label, the way a person does. */
export async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Runs axe with the WCAG 2.2 AA rule sets and expects no violations. */
export async function expectNoAxeViolations(page: Page) {
  // After the stylesheet has loaded: a heading can be visible before it has
  // (seen on a loaded CI machine), and unstyled links fail target-size.
  await page.waitForLoadState('load');
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .analyze();
  const summary = results.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
  );
  expect(summary).toEqual([]);
}

/** The page fits its viewport: nothing scrolls sideways. */
export async function expectNoHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
}
