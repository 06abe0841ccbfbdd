import { expect, test, type Page } from '@playwright/test';
import { ADMIN, OWNER, READER, WRITER, expectNoAxeViolations } from './fixtures';
import {
  LIST_URL,
  SECRET_PAT,
  SECRET_SVC,
  actionsButton,
  chooseFromMenu,
  expectSecretNotStored,
  menuFor,
  openList,
  pageStatus,
  row,
  rowNames,
  seedToken,
  signInAs,
  tokenCell,
  tokenPost,
  tokensTable,
  uniqueTag,
} from './tokens-helpers';

/** Focus is inside the given dialog. */
async function expectFocusInside(page: Page, dialogName: string) {
  const inside = await page
    .getByRole('dialog', { name: dialogName })
    .evaluate((d) => d.contains(document.activeElement) && document.activeElement !== d);
  expect(inside, `focus inside the "${dialogName}" dialog`).toBe(true);
}

test.describe('create with the mouse', () => {
  test('an Admin creates a personal token and sees its secret exactly once', async ({ page, context }, testInfo) => {
    test.slow(); // several axe runs on a debug build
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const tag = uniqueTag(testInfo);
    const name = `${tag} deploy bot`;
    await signInAs(page, ADMIN);
    await openList(page, tag);

    await page.getByRole('button', { name: 'Create token' }).click();
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    await expect(form).toBeVisible();
    await expectFocusInside(page, 'Create an access token');
    await expect(form.getByRole('textbox', { name: 'Name', exact: true })).toBeVisible();
    await expect(form.getByRole('textbox', { name: 'Description' })).toBeVisible();
    const roles = form.getByRole('group', { name: 'Role' });
    for (const role of ['Reader', 'Writer', 'Admin']) {
      await expect(roles.getByRole('radio', { name: role, exact: true })).toBeEnabled();
    }
    await expect(form.getByRole('checkbox', { name: 'This is a service token' })).toBeVisible();
    await expect(form.getByRole('checkbox', { name: 'This is a service token' })).not.toBeChecked();
    await expect(form.getByRole('combobox', { name: 'API version' })).toBeVisible();
    await expect(form.getByLabel('Expires')).toBeVisible();
    await expectNoAxeViolations(page);

    await form.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
    await form.getByRole('textbox', { name: 'Description' }).fill('Deploys the web app');
    await roles.getByRole('radio', { name: 'Writer', exact: true }).check();
    await form.getByRole('combobox', { name: 'API version' }).selectOption('20220603');
    await form.getByLabel('Expires').fill('2099-12-31T12:00');
    const created = tokenPost(page, /\/settings\/authorization\/tokens$/);
    await form.getByRole('button', { name: 'Save token' }).click();
    // The response that carries the secret is never cached.
    expect((await created).headers()['cache-control']).toContain('no-store');

    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(secretDialog).toBeVisible();
    await expect(form).toHaveCount(0);
    const secretField = secretDialog.getByRole('textbox', { name: 'New access token' });
    await expect(secretField).toHaveValue(SECRET_PAT);
    await expect(secretField).toHaveAttribute('readonly', '');
    await expect(secretField).not.toBeEditable();
    await expect(secretField).toBeFocused();
    await expect(secretField).toHaveAccessibleDescription(/only time this token is shown/);
    await expect(secretDialog.getByRole('button', { name: 'Done' })).toBeVisible();
    const secret = await secretField.inputValue();
    await expect(pageStatus(page)).toHaveText(`Created token ${name}. Copy its secret now.`);
    await expectNoAxeViolations(page);

    // Copy puts the secret on the clipboard and says so.
    await secretDialog.getByRole('button', { name: 'Copy' }).click();
    await expect(secretDialog.getByRole('status')).toHaveText('Copied to the clipboard.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await expect(secretDialog).toHaveCount(0);
    // The row header holds the name and the description.
    const described = tokensTable(page)
      .getByRole('row')
      .filter({ has: page.getByRole('rowheader', { name: `${name} Deploys the web app` }) });
    await expect(described).toHaveCount(1);
    await expect(described.getByRole('cell').nth(0)).toHaveText('Writer');
    await expect(described.getByRole('cell').nth(1)).toHaveText('Personal');
    await expect(tokenCell(described)).toContainText(secret.slice(-4));
    await expect(actionsButton(page, name)).toBeFocused();
    // The secret left the page with the dialog, and was kept nowhere.
    expect(await page.content()).not.toContain(secret);
    await expectSecretNotStored(page, secret);

    // Shown once: a reload (and the list) never shows it again.
    await page.reload();
    await expect(described).toHaveCount(1);
    expect(await page.content()).not.toContain(secret);
    await expect(page.getByRole('textbox', { name: 'New access token' })).toHaveCount(0);

  });

  test('an Owner creates a service token with an lk_svc_ secret', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} ci service`;
    await signInAs(page, OWNER);
    await openList(page, tag);

    await page.getByRole('button', { name: 'Create token' }).click();
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
    await form.getByRole('group', { name: 'Role' }).getByRole('radio', { name: 'Admin', exact: true }).check();
    await form.getByRole('checkbox', { name: 'This is a service token' }).check();
    await form.getByRole('button', { name: 'Save token' }).click();

    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    const secretField = secretDialog.getByRole('textbox', { name: 'New access token' });
    await expect(secretField).toHaveValue(SECRET_SVC);
    const secret = await secretField.inputValue();
    await expect(pageStatus(page)).toHaveText(`Created token ${name}. Copy its secret now.`);
    await secretDialog.getByRole('button', { name: 'Done' }).click();

    await expect(row(page, name).getByRole('cell').nth(1)).toHaveText('Service');
    await expect(actionsButton(page, name)).toBeFocused();
    await page.reload();
    await expect(row(page, name)).toHaveCount(1);
    expect(await page.content()).not.toContain(secret);
  });
});

test.describe('invalid input', () => {
  test('an empty name keeps the dialog open, marks and focuses Name, stores nothing', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    await signInAs(page, WRITER);
    await openList(page, tag);
    await expect(tokensTable(page).getByRole('rowheader')).toHaveCount(0);

    await page.getByRole('button', { name: 'Create token' }).click();
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    const nameField = form.getByRole('textbox', { name: 'Name', exact: true });
    await expect(nameField).not.toHaveAttribute('aria-invalid', 'true');
    await form.getByRole('textbox', { name: 'Description' }).fill(`${tag} never stored`);
    await form.getByRole('button', { name: 'Save token' }).click();

    await expect(nameField).toHaveAttribute('aria-invalid', 'true');
    await expect(form).toBeVisible();
    await expect(nameField).toHaveAccessibleDescription(/Enter a name for the token/);
    await expect(nameField).toBeFocused();
    // What was typed elsewhere is kept.
    await expect(form.getByRole('textbox', { name: 'Description' })).toHaveValue(`${tag} never stored`);
    await expect(page.getByRole('dialog', { name: 'Copy your new token' })).toHaveCount(0);
    await expect(tokensTable(page).getByRole('rowheader')).toHaveCount(0);
    // Nothing announced (the region itself is checked in its own test).
    await expect(page.locator('#status')).toBeEmpty();
    await expectNoAxeViolations(page);

    // Spaces only are no name either.
    await nameField.fill('   ');
    await form.getByRole('button', { name: 'Save token' }).click();
    await expect(nameField).toHaveAttribute('aria-invalid', 'true');
    await expect(nameField).toBeFocused();
    await expect(tokensTable(page).getByRole('rowheader')).toHaveCount(0);

    // Nothing was stored: the search finds no token from this test.
    await form.getByRole('button', { name: 'Cancel' }).click();
    await expect(form).toHaveCount(0);
    await page.reload();
    await expect(tokensTable(page).getByRole('rowheader')).toHaveCount(0);

    // Correcting the name then works.
    await page.getByRole('button', { name: 'Create token' }).click();
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill(`${tag} fixed`);
    await form.getByRole('button', { name: 'Save token' }).click();
    await expect(page.getByRole('dialog', { name: 'Copy your new token' })).toBeVisible();
  });
});

test.describe('row menu with the mouse', () => {
  test('clone puts "<name> (copy)" right below its source and returns focus to it', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const source = `${tag} alpha`;
    const copy = `${source} (copy)`;
    await signInAs(page, OWNER);
    const seeded = await seedToken(page, source, { role: 'writer' });
    await seedToken(page, `${tag} beta`);
    await seedToken(page, `${tag} aardvark`);
    await openList(page, tag);
    expect(await rowNames(page)).toEqual([`${tag} aardvark`, source, `${tag} beta`]);

    await actionsButton(page, source).click();
    await expect(actionsButton(page, source)).toHaveAttribute('aria-expanded', 'true');
    await expect(menuFor(page, source).getByRole('menuitem')).toHaveText([
      'Edit token',
      'Clone token',
      'Reset token',
      'Suspend token',
      'View audit log',
      'Delete token',
    ]);
    const cloned = tokenPost(page, /\/clone$/);
    await menuFor(page, source).getByRole('menuitem', { name: 'Clone token' }).click();
    expect((await cloned).headers()['cache-control']).toContain('no-store');

    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(secretDialog).toBeVisible();
    await expectFocusInside(page, 'Copy your new token');
    const secret = await secretDialog.getByRole('textbox', { name: 'New access token' }).inputValue();
    expect(secret).toMatch(SECRET_PAT);
    expect(secret).not.toBe(seeded.secret);
    await expect(pageStatus(page)).toContainText(`Cloned token as ${copy}`);
    // The new row sits directly below its source, in the DOM as on screen.
    expect(await rowNames(page)).toEqual([`${tag} aardvark`, source, copy, `${tag} beta`]);
    await expect(row(page, copy).getByRole('cell').nth(0)).toHaveText('Writer');
    await expect(tokenCell(row(page, copy))).toContainText(secret.slice(-4));
    await expectNoAxeViolations(page);

    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await expect(secretDialog).toHaveCount(0);
    await expect(actionsButton(page, copy)).toBeFocused();

    // Both work, and the copy survives a reload.
    await page.reload();
    expect(await rowNames(page)).toEqual([`${tag} aardvark`, source, copy, `${tag} beta`]);
    expect(await page.content()).not.toContain(secret);
  });

  test('delete asks first, removes the row, announces it and moves focus sensibly', async ({ page }, testInfo) => {
    test.slow(); // several axe runs on a debug build
    const tag = uniqueTag(testInfo);
    const [first, middle, last] = [`${tag} one`, `${tag} three`, `${tag} two`];
    await signInAs(page, OWNER);
    await seedToken(page, first);
    await seedToken(page, middle);
    await seedToken(page, last);
    await openList(page, tag);
    expect(await rowNames(page)).toEqual([first, middle, last]);

    // Menu open.
    await actionsButton(page, middle).click();
    await expect(menuFor(page, middle)).toBeVisible();
    await expectNoAxeViolations(page);
    await menuFor(page, middle).getByRole('menuitem', { name: 'Delete token' }).click();

    // The confirmation.
    const confirm = page.getByRole('alertdialog', { name: 'Delete token?' });
    await expect(confirm).toBeVisible();
    await expect(confirm).toContainText(middle);
    await expect(confirm).toContainText('401 Unauthorized');
    await expect(confirm).toHaveAccessibleDescription(/401 Unauthorized/);
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await expect(confirm.getByRole('button', { name: 'Delete token' })).toBeVisible();
    await expectNoAxeViolations(page);

    // Cancel changes nothing and returns focus to the menu button.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect(confirm).toHaveCount(0);
    await expect(actionsButton(page, middle)).toBeFocused();
    expect(await rowNames(page)).toEqual([first, middle, last]);

    // Delete the middle row: focus goes to the next row's button.
    await chooseFromMenu(page, middle, 'Delete token');
    await confirm.getByRole('button', { name: 'Delete token' }).click();
    await expect(confirm).toHaveCount(0);
    await expect(row(page, middle)).toHaveCount(0);
    await expect(pageStatus(page)).toHaveText(`Deleted ${middle}`);
    await expect(actionsButton(page, last)).toBeFocused();
    expect(await rowNames(page)).toEqual([first, last]);

    // Delete the last row: focus goes to the previous row's button.
    await chooseFromMenu(page, last, 'Delete token');
    await confirm.getByRole('button', { name: 'Delete token' }).click();
    await expect(row(page, last)).toHaveCount(0);
    await expect(pageStatus(page)).toHaveText(`Deleted ${last}`);
    await expect(actionsButton(page, first)).toBeFocused();

    // Delete the only row left: focus goes to the table caption.
    await chooseFromMenu(page, first, 'Delete token');
    await confirm.getByRole('button', { name: 'Delete token' }).click();
    await expect(row(page, first)).toHaveCount(0);
    await expect(pageStatus(page)).toHaveText(`Deleted ${first}`);
    await expect(tokensTable(page).getByRole('caption')).toBeFocused();

    await page.reload();
    await expect(tokensTable(page).getByRole('rowheader')).toHaveCount(0);
  });

  test('reset with a 24-hour grace period needs the name typed and shows a new secret', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const name = `${tag} rotate me`;
    await signInAs(page, ADMIN);
    const seeded = await seedToken(page, name, { role: 'reader' });
    await openList(page, tag);
    await expect(tokenCell(row(page, name))).toContainText(seeded.secret.slice(-4));

    await chooseFromMenu(page, name, 'Reset token');
    const dialog = page.getByRole('dialog', { name: 'Reset token?' });
    await expect(dialog).toBeVisible();
    await expectFocusInside(page, 'Reset token?');
    await expect(dialog).toContainText(name);
    const grace = dialog.getByRole('group', { name: 'Keep the old secret working for' });
    await expect(grace.getByRole('radio')).toHaveCount(4);
    for (const label of ['Immediately', '1 hour', '24 hours', '7 days']) {
      await expect(grace.getByRole('radio', { name: label, exact: true })).toBeVisible();
    }
    const submit = dialog.getByRole('button', { name: 'Reset token' });
    const confirmName = dialog.getByRole('textbox', { name: /Type the token's name/ });
    await expect(confirmName).toHaveAccessibleName(new RegExp(`Type the token's name, ${name}, to confirm`));
    await expect(submit).toBeDisabled();
    await expectNoAxeViolations(page);

    await grace.getByRole('radio', { name: '24 hours' }).check();
    await confirmName.fill(name.slice(0, -1));
    await expect(submit).toBeDisabled();
    await confirmName.fill(`${name}x`);
    await expect(submit).toBeDisabled();
    await confirmName.fill(name);
    await expect(submit).toBeEnabled();
    const reset = tokenPost(page, /\/reset$/);
    await submit.click();
    expect((await reset).headers()['cache-control']).toContain('no-store');

    const secretDialog = page.getByRole('dialog', { name: 'Copy your new token' });
    await expect(secretDialog).toBeVisible();
    await expect(dialog).toHaveCount(0);
    const secret = await secretDialog.getByRole('textbox', { name: 'New access token' }).inputValue();
    expect(secret).toMatch(SECRET_PAT);
    expect(secret).not.toBe(seeded.secret);
    await expect(pageStatus(page)).toContainText(`Reset ${name}. The old secret keeps working for 24 hours`);
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await expect(secretDialog).toHaveCount(0);
    await expect(actionsButton(page, name)).toBeFocused();

    const cell = tokenCell(row(page, name));
    await expect(cell).toContainText(secret.slice(-4));
    await expect(cell).not.toContainText(seeded.secret.slice(-4));
    await page.reload();
    await expect(tokenCell(row(page, name))).toContainText(secret.slice(-4));
  });

  test('edit renames the token, announces it and focuses its menu button', async ({ page }, testInfo) => {
    const tag = uniqueTag(testInfo);
    const before = `${tag} before`;
    const after = `${tag} after`;
    await signInAs(page, ADMIN);
    await seedToken(page, before);
    await openList(page, tag);

    await chooseFromMenu(page, before, 'Edit token');
    const dialog = page.getByRole('dialog', { name: 'Edit token' });
    await expect(dialog).toBeVisible();
    await expectFocusInside(page, 'Edit token');
    const nameField = dialog.getByRole('textbox', { name: 'Name', exact: true });
    await expect(nameField).toHaveValue(before);
    await expectNoAxeViolations(page);

    await nameField.fill(after);
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(row(page, after)).toHaveCount(1);
    await expect(row(page, before)).toHaveCount(0);
    await expect(pageStatus(page)).toHaveText(`Saved changes to ${after}`);
    await expect(actionsButton(page, after)).toBeFocused();

    await page.reload();
    await expect(row(page, after)).toHaveCount(1);
    await expect(row(page, before)).toHaveCount(0);
  });
});

test.describe('what each role may choose', () => {
  test('a Reader gets no service option and sees why Writer and Admin are disabled', async ({ page }, testInfo) => {
    await signInAs(page, READER);
    await openList(page, uniqueTag(testInfo));
    await page.getByRole('button', { name: 'Create token' }).click();
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    await expect(form).toBeVisible();
    await expect(page.getByRole('checkbox', { name: 'This is a service token' })).toHaveCount(0);
    const roles = form.getByRole('group', { name: 'Role' });
    await expect(roles.getByRole('radio', { name: 'Reader', exact: true })).toBeEnabled();
    for (const role of ['Writer', 'Admin']) {
      const radio = roles.getByRole('radio', { name: role, exact: true });
      await expect(radio).toBeDisabled();
      await expect(radio).toHaveAccessibleDescription(new RegExp(`${role} is above your role \\(Reader\\)`));
    }
    await expectNoAxeViolations(page);
  });

  test('a Writer may pick Reader or Writer, not Admin, and no service token', async ({ page }, testInfo) => {
    await signInAs(page, WRITER);
    await openList(page, uniqueTag(testInfo));
    await page.getByRole('button', { name: 'Create token' }).click();
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    await expect(form).toBeVisible();
    await expect(page.getByRole('checkbox', { name: 'This is a service token' })).toHaveCount(0);
    const roles = form.getByRole('group', { name: 'Role' });
    await expect(roles.getByRole('radio', { name: 'Reader', exact: true })).toBeEnabled();
    await expect(roles.getByRole('radio', { name: 'Writer', exact: true })).toBeEnabled();
    const admin = roles.getByRole('radio', { name: 'Admin', exact: true });
    await expect(admin).toBeDisabled();
    await expect(admin).toHaveAccessibleDescription(/Admin is above your role \(Writer\)/);
  });
});

test('the status region is in the accessibility tree, empty, from page load', async ({ page }, testInfo) => {
  // PRODUCT.md §4: "the status region, which exists empty from page load".
  // A live region that is display:none until it gets text is not in the
  // accessibility tree when it changes, so screen readers may not announce it.
  await signInAs(page, OWNER);
  await openList(page, uniqueTag(testInfo));
  await expect(page.locator('#status')).toBeEmpty();
  await expect(pageStatus(page)).toHaveCount(1);
});

test('the list URL keeps the search so a view can be bookmarked', async ({ page }, testInfo) => {
  const tag = uniqueTag(testInfo);
  await signInAs(page, OWNER);
  await seedToken(page, `${tag} bookmarked`);
  await page.goto(LIST_URL);
  await page.getByLabel('Search by name').fill(tag);
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(new RegExp(`[?&]q=${tag}`));
  expect(await rowNames(page)).toEqual([`${tag} bookmarked`]);
});
