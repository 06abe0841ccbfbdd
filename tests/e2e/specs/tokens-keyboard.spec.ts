import { expect, test, type Locator, type Page } from '@playwright/test';
import { OWNER, expectNoAxeViolations } from './fixtures';
import {
  actionsButton,
  expectFocusNotOnBody,
  menuFor,
  openList,
  pageStatus,
  row,
  rowNames,
  seedToken,
  signInAs,
  uniqueTag,
} from './tokens-helpers';

/** Presses Tab until `target` has focus, checking focus never drops to <body>. */
async function tabTo(page: Page, target: Locator, maxPresses = 40) {
  for (let i = 0; i < maxPresses; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
    await expectFocusNotOnBody(page, `Tab #${i + 1}`);
  }
  await expect(target, `reached within ${maxPresses} Tab presses`).toBeFocused();
}

/** Presses a key, then checks where focus went and that it is not <body>. */
async function press(page: Page, key: string, expected: Locator) {
  await page.keyboard.press(key);
  await expect(expected, `focus after ${key}`).toBeFocused();
  await expectFocusNotOnBody(page, key);
}

test.describe('keyboard only', () => {
  test('the row menu button follows the WAI-ARIA menu button pattern', async ({ page }, testInfo) => {
    test.slow(); // many steps and an axe run on a debug build
    const tag = uniqueTag(testInfo);
    const name = `${tag} keys`;
    await signInAs(page, OWNER);
    await seedToken(page, name);
    await seedToken(page, `${tag} later`);
    await openList(page, tag);

    const button = actionsButton(page, name);
    const menu = menuFor(page, name);
    const item = (label: string) => menu.getByRole('menuitem', { name: label, exact: true });
    await expect(button).toHaveAttribute('aria-haspopup', 'menu');
    await expect(button).toHaveAttribute('aria-expanded', 'false');
    await expect(menu).toBeHidden();

    // Start from the top of the freshly loaded page, as a keyboard user does.
    await tabTo(page, button);

    // Enter opens and focuses the first item.
    await press(page, 'Enter', item('Edit token'));
    await expect(menu).toBeVisible();
    await expect(button).toHaveAttribute('aria-expanded', 'true');
    await expect(menu.getByRole('menuitem')).toHaveText(['Edit token', 'Clone token', 'Reset token', 'Suspend token', 'View audit log', 'Delete token']);
    await expectNoAxeViolations(page);

    // Arrows move and wrap; Home and End jump.
    await press(page, 'ArrowDown', item('Clone token'));
    await press(page, 'ArrowDown', item('Reset token'));
    await press(page, 'ArrowDown', item('Suspend token'));
    await press(page, 'ArrowDown', item('View audit log'));
    await press(page, 'ArrowDown', item('Delete token'));
    await press(page, 'ArrowDown', item('Edit token'));
    await press(page, 'ArrowUp', item('Delete token'));
    await press(page, 'ArrowUp', item('View audit log'));
    await press(page, 'Home', item('Edit token'));
    await press(page, 'End', item('Delete token'));

    // Escape closes and returns focus to the button.
    await press(page, 'Escape', button);
    await expect(menu).toBeHidden();
    await expect(button).toHaveAttribute('aria-expanded', 'false');

    // Space opens too.
    await press(page, ' ', item('Edit token'));
    await expect(button).toHaveAttribute('aria-expanded', 'true');
    await press(page, 'Escape', button);
    await expect(menu).toBeHidden();

    // And ArrowDown.
    await press(page, 'ArrowDown', item('Edit token'));
    await expect(menu).toBeVisible();

    // Enter on "Delete token" opens the confirmation with Cancel focused.
    await press(page, 'End', item('Delete token'));
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('alertdialog', { name: 'Delete token?' });
    await expect(confirm).toBeVisible();
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await expectFocusNotOnBody(page, 'Enter on Delete token');
    await expect(menu).toBeHidden();

    // Escape cancels: the dialog closes, focus is back on the button, the row stays.
    await press(page, 'Escape', button);
    await expect(confirm).toHaveCount(0);
    await expect(row(page, name)).toHaveCount(1);
    expect(await rowNames(page)).toEqual([name, `${tag} later`]);
  });

  test('Tab out of an open menu closes it', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} tabbing`;
    await signInAs(page, OWNER);
    await seedToken(page, name);
    await openList(page, tag);

    const button = actionsButton(page, name);
    await button.focus();
    await press(page, 'Enter', menuFor(page, name).getByRole('menuitem', { name: 'Edit token' }));
    await page.keyboard.press('Tab');
    await expect(menuFor(page, name)).toBeHidden();
    await expect(button).toHaveAttribute('aria-expanded', 'false');
    await expectFocusNotOnBody(page, 'Tab out of the menu');
  });

  test('delete a token with the keyboard alone; focus moves to the next row', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const [doomed, next] = [`${tag} a`, `${tag} b`];
    await signInAs(page, OWNER);
    await seedToken(page, doomed);
    await seedToken(page, next);
    await openList(page, tag);

    await tabTo(page, actionsButton(page, doomed));
    await press(page, 'Enter', menuFor(page, doomed).getByRole('menuitem', { name: 'Edit token' }));
    await press(page, 'End', menuFor(page, doomed).getByRole('menuitem', { name: 'Delete token' }));
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('alertdialog', { name: 'Delete token?' });
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await press(page, 'Tab', confirm.getByRole('button', { name: 'Delete token' }));
    await page.keyboard.press('Enter');
    await expect(row(page, doomed)).toHaveCount(0);
    await expect(pageStatus(page)).toHaveText(`Deleted ${doomed}`);
    await expect(actionsButton(page, next)).toBeFocused();
    await expectFocusNotOnBody(page, 'deleting');
  });

  test('clone with the keyboard; Done returns focus to the copy', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} source`;
    await signInAs(page, OWNER);
    await seedToken(page, name);
    await openList(page, tag);

    await actionsButton(page, name).focus();
    await press(page, 'ArrowDown', menuFor(page, name).getByRole('menuitem', { name: 'Edit token' }));
    await press(page, 'ArrowDown', menuFor(page, name).getByRole('menuitem', { name: 'Clone token' }));
    await page.keyboard.press('Enter');
    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(secretDialog.getByRole('textbox', { name: 'New access token' })).toBeFocused();
    await expectFocusNotOnBody(page, 'cloning');
    // Tab moves through the dialog's controls: Copy, then Done. (What lies
    // past the last control of a native modal dialog is the browser's own UI.)
    await press(page, 'Tab', secretDialog.getByRole('button', { name: 'Copy' }));
    await press(page, 'Tab', secretDialog.getByRole('button', { name: 'Done' }));
    await page.keyboard.press('Enter');
    await expect(secretDialog).toHaveCount(0);
    await expect(actionsButton(page, `${name} (copy)`)).toBeFocused();
  });

  test('create with the keyboard; Escape on the form returns focus to "Create token"', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    await signInAs(page, OWNER);
    await openList(page, tag);
    const create = page.getByRole('button', { name: 'Create token' });
    await create.focus();
    await page.keyboard.press('Enter');
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    await expect(form).toBeVisible();
    await expect(form.getByRole('textbox', { name: 'Name', exact: true })).toBeFocused();
    await press(page, 'Escape', create);
    await expect(form).toHaveCount(0);

    await page.keyboard.press('Enter');
    await expect(form.getByRole('textbox', { name: 'Name', exact: true })).toBeFocused();
    await page.keyboard.type(`${tag} typed`);
    await page.keyboard.press('Enter'); // submits the form from the text field
    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(secretDialog.getByRole('textbox', { name: 'New access token' })).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(secretDialog).toHaveCount(0);
    await expect(actionsButton(page, `${tag} typed`)).toBeFocused();
  });
});
