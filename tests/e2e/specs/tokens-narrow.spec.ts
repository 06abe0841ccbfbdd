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
async function expectFitsWidth(locator: Locator, what: string, width = WIDTH) {
  const box = await locator.boundingBox();
  expect(box, `${what} is rendered`).not.toBeNull();
  expect(box!.x, `${what} starts inside the viewport`).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width, `${what} ends inside the viewport`).toBeLessThanOrEqual(width);
}

async function seedLongTokens(page: Page, tag: string) {
  await seedToken(page, `${tag} production deployment pipeline`, {
    description: 'Used by the release job to publish flags to every environment',
  });
  await seedToken(page, `${tag}-an-unbroken-name-without-spaces-that-is-quite-long`, { role: 'writer' });
  await seedToken(page, `${tag} short`);
}

for (const width of [320, 375]) {
  test.describe(`cards at ${width} px wide`, () => {
    test.use({ viewport: { width, height: 700 } });

    test('each token is a card with its details and Actions on screen; still a table to screen readers', async ({ page }, testInfo) => {
      test.slow(); // several axe runs on a debug build
      const tag = uniqueTag(testInfo);
      await signInAs(page, OWNER);
      await seedLongTokens(page, tag);
      await openList(page, tag);
      const table = tokensTable(page);
      await expect(table.getByRole('rowheader')).toHaveCount(3);

      // Nothing scrolls sideways, not even inside the table's wrapper.
      await expectNoHorizontalScroll(page);
      const wrapper = await table.evaluate((t) => {
        const w = t.parentElement!;
        return { scrollWidth: w.scrollWidth, clientWidth: w.clientWidth };
      });
      expect(wrapper.scrollWidth).toBeLessThanOrEqual(wrapper.clientWidth);

      // The same table semantics: column headers (hidden from sight only),
      // one row per token with its name as row header, cells inside.
      await expect(table.getByRole('columnheader')).toHaveCount(9);
      await expect(table.getByRole('columnheader', { name: 'Last used' })).toBeAttached();
      for (const name of [`${tag} production deployment pipeline`, `${tag} short`]) {
        const card = table.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${name}`) }) });
        await expect(card).toHaveCount(1);
        await expect(card.getByRole('cell')).toHaveCount(8);
        // Name, role, type, last used and Actions are visible without scrolling.
        await expectFitsWidth(card.getByRole('rowheader'), `the name of ${name}`, width);
        await expectFitsWidth(card.getByRole('cell').filter({ hasText: /^(Reader|Writer|Admin)$/ }), `the role of ${name}`, width);
        await expectFitsWidth(card.getByRole('cell').filter({ hasText: /^(Personal|Service)$/ }), `the type of ${name}`, width);
        await expectFitsWidth(card.getByRole('cell').filter({ hasText: /^Never$/ }).first(), `last used of ${name}`, width);
        await expectFitsWidth(actionsButton(page, name), `Actions for ${name}`, width);
        // The card's Actions button sits on its first line, beside the name.
        const nameBox = (await card.getByRole('rowheader').boundingBox())!;
        const buttonBox = (await actionsButton(page, name).boundingBox())!;
        expect(buttonBox.y).toBeLessThan(nameBox.y + nameBox.height);
      }
      // Cards stack: each begins below the one before.
      const tops = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().top));
      for (let i = 1; i < tops.length; i++) expect(tops[i]).toBeGreaterThan(tops[i - 1]);
      await expectNoAxeViolations(page);

      // An open menu sits inside the viewport.
      const name = `${tag} short`;
      await actionsButton(page, name).click();
      await expect(menuFor(page, name)).toBeVisible();
      await expectFitsWidth(menuFor(page, name), 'the open menu', width);
      await expectNoHorizontalScroll(page);
      await expectNoAxeViolations(page);
    });
  });
}

test.describe('at 320 px wide', () => {
  test.use({ viewport: { width: WIDTH, height: 640 } });

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
