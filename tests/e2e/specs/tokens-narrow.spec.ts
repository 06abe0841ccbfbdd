import { expect, test, type Locator, type Page } from '@playwright/test';
import { OWNER, expectNoAxeViolations, expectNoHorizontalScroll } from './fixtures';
import {
  actionsButton,
  menuFor,
  openList,
  seedToken,
  signInAs,
  tokensTable,
  uniqueTag,
} from './tokens-helpers';

const WIDTH = 320;

/** The element lies within the viewport's width. */
async function expectFitsWidth(locator: Locator, what: string) {
  const box = await locator.boundingBox();
  expect(box, `${what} is rendered`).not.toBeNull();
  expect(box!.x, `${what} starts inside the viewport`).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width, `${what} ends inside the viewport`).toBeLessThanOrEqual(WIDTH);
}

async function seedLongTokens(page: Page, tag: string) {
  await seedToken(page, `${tag} production deployment pipeline`, {
    description: 'Used by the release job to publish flags to every environment',
  });
  await seedToken(page, `${tag}-an-unbroken-name-without-spaces-that-is-quite-long`, { role: 'writer' });
  await seedToken(page, `${tag} short`);
}

test.describe('at 320 px wide', () => {
  test.use({ viewport: { width: WIDTH, height: 640 } });

  test('the page does not scroll sideways; the table scrolls inside its wrapper', async ({ page }, testInfo) => {
    test.slow(); // several axe runs on a debug build
    const tag = uniqueTag(testInfo);
    await signInAs(page, OWNER);
    await seedLongTokens(page, tag);
    await openList(page, tag);
    const table = tokensTable(page);
    await expect(table.getByRole('rowheader')).toHaveCount(3);

    await expectNoHorizontalScroll(page);
    const wrapper = await table.evaluate((t) => {
      const w = t.parentElement!;
      return {
        scrollWidth: w.scrollWidth,
        clientWidth: w.clientWidth,
        overflowX: getComputedStyle(w).overflowX,
      };
    });
    // The table is wider than the screen and its wrapper is what scrolls.
    expect(wrapper.scrollWidth).toBeGreaterThan(wrapper.clientWidth);
    expect(['auto', 'scroll']).toContain(wrapper.overflowX);
    await expectNoAxeViolations(page);

    // Scrolling the wrapper to its end still leaves the page unscrolled.
    await table.evaluate((t) => t.parentElement!.scrollTo({ left: 10_000 }));
    await expectNoHorizontalScroll(page);

    // An open menu sits inside the viewport.
    const name = `${tag} short`;
    await actionsButton(page, name).click();
    await expect(menuFor(page, name)).toBeVisible();
    await expectFitsWidth(menuFor(page, name), 'the open menu');
    await expectNoHorizontalScroll(page);
  });

  test('dialogs fit the screen', async ({ page }, testInfo) => {
    test.slow(); // several axe runs on a debug build
    const tag = uniqueTag(testInfo);
    const name = `${tag} production deployment pipeline`;
    await signInAs(page, OWNER);
    await seedLongTokens(page, tag);
    await openList(page, tag);

    await page.getByRole('button', { name: 'Create token' }).click();
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    await expect(form).toBeVisible();
    await expectFitsWidth(form, 'the create dialog');
    await expectFitsWidth(form.getByRole('button', { name: 'Save token' }), 'the Save token button');
    await expectFitsWidth(form.getByRole('combobox', { name: 'API version' }), 'the API version field');
    await expectNoHorizontalScroll(page);
    await expectNoAxeViolations(page);
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill(`${tag} narrow`);
    await form.getByRole('button', { name: 'Save token' }).click();

    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(secretDialog).toBeVisible();
    await expectFitsWidth(secretDialog, 'the secret dialog');
    await expectFitsWidth(secretDialog.getByRole('textbox', { name: 'New access token' }), 'the secret field');
    await expectFitsWidth(secretDialog.getByRole('button', { name: 'Copy' }), 'the Copy button');
    await expectNoHorizontalScroll(page);
    await secretDialog.getByRole('button', { name: 'Done' }).click();

    await actionsButton(page, name).click();
    await menuFor(page, name).getByRole('menuitem', { name: 'Reset token' }).click();
    const reset = page.getByRole('dialog', { name: 'Reset token?' });
    await expect(reset).toBeVisible();
    await expectFitsWidth(reset, 'the reset dialog');
    await expectFitsWidth(reset.getByRole('button', { name: 'Reset token' }), 'the Reset token button');
    await expectNoHorizontalScroll(page);
    await reset.getByRole('button', { name: 'Cancel' }).click();

    await actionsButton(page, name).click();
    await menuFor(page, name).getByRole('menuitem', { name: 'Delete token' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Delete token?' });
    await expect(confirm).toBeVisible();
    await expectFitsWidth(confirm, 'the delete dialog');
    await expectFitsWidth(confirm.getByRole('button', { name: 'Delete token' }), 'the Delete token button');
    await expectNoHorizontalScroll(page);
    await expectNoAxeViolations(page);
  });
});
