// Takes screenshots of the console's pages at 1280 px and 375 px, light and
// dark, for a person to look at. Not a test. Usage (server already running):
//   BASE=http://127.0.0.1:18090 EMAIL=owner@e2e.test PASSWORD=… node tools/screenshots.mjs OUTDIR
import { chromium } from '@playwright/test';

const base = process.env.BASE ?? 'http://127.0.0.1:18090';
const out = process.argv[2] ?? 'screenshots';
const pages = (process.env.PAGES ?? '/settings/authorization,/settings/members,/settings/members/new,/settings/policy,/settings/audit,/nope').split(',');

/** A few tokens to look at, created once through the page's own form. */
async function seedTokens(page) {
  await page.goto(`${base}/settings/authorization`);
  if (await page.locator('#tokens-body tr').count() > 0) return;
  const samples = [
    ['Production deploy pipeline', 'admin', 'Publishes flags from the release job to every environment'],
    ['grafana-dashboard-reader', 'reader', ''],
    ['Staging smoke tests', 'writer', ''],
  ];
  for (const [name, role, description] of samples) {
    await page.getByRole('button', { name: 'Create token' }).first().click();
    const form = page.getByRole('dialog', { name: 'Create an access token' });
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
    if (description) await form.getByRole('textbox', { name: /Description/ }).fill(description);
    await form.getByRole('radio', { name: new RegExp(`^${role}`, 'i') }).check();
    await form.getByRole('button', { name: 'Save token' }).click();
    await page.getByRole('dialog', { name: 'Copy your new token' }).getByRole('button', { name: 'Done' }).click();
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
for (const scheme of ['light', 'dark']) {
  for (const width of [1280, 375]) {
    const context = await browser.newContext({ viewport: { width, height: 800 }, colorScheme: scheme });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.screenshot({ path: `${out}/login-${width}-${scheme}.png`, fullPage: true });
    await page.getByLabel('Email').fill(process.env.EMAIL);
    await page.getByLabel('Password').fill(process.env.PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('networkidle');
    await seedTokens(page);
    for (const path of pages) {
      await page.goto(`${base}${path}`);
      const name = path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'root';
      await page.screenshot({ path: `${out}/${name}-${width}-${scheme}.png`, fullPage: true });
    }
    await context.close();
  }
}
await browser.close();
