import { defineConfig } from '@playwright/test';
import { PASSWORD } from './specs/fixtures';

const port = process.env.E2E_PORT ?? '18090';

export default defineConfig({
  testDir: './specs',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  workers: 2,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: nothing here may download a browser.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    {
      name: 'console',
      testIgnore: /policy\.spec\.ts$/,
      // Not a cleanup: Playwright runs a project's teardown after the
      // project has finished, whether its tests passed or failed (a
      // dependent project would be skipped after any failure here). That is
      // the ordering policy.spec.ts needs.
      teardown: 'policy',
    },
    {
      // A token policy binds every create on the shared server, while the
      // other specs make tokens that never expire: so its spec runs alone,
      // after them, one test at a time.
      name: 'policy',
      testMatch: /policy\.spec\.ts$/,
      workers: 1,
    },
  ],
  webServer: {
    command: 'bash start-server.sh',
    url: `http://127.0.0.1:${port}/healthz`,
    // Generous: it creates four members (an Argon2 hash each) and, on
    // PostgreSQL, a database first; a loaded CI machine has taken over 60 s.
    timeout: 180_000,
    reuseExistingServer: false,
    env: {
      E2E_PORT: port,
      E2E_PASSWORD: PASSWORD,
      RUST_LOG: 'warn',
      // Set to a PostgreSQL server URL to run the specs on PostgreSQL.
      E2E_POSTGRES: process.env.E2E_POSTGRES ?? '',
    },
  },
});
