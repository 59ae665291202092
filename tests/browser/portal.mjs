// Drives Debian's chromium through the portal like a person would: by the
// labels people see. Usage:
//   node portal.mjs register URL PHONE SHOTDIR VIEWPORT
//   node portal.mjs read URL SMSFILE SHOTDIR VIEWPORT DOWNLOADDIR
//   node portal.mjs switch URL - SHOTDIR VIEWPORT      (the language switch)
// VIEWPORT is "desktop" or "phone". Prints one JSON object with results.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';

const [mode, url, arg, shotdir, viewportName, downloadDir] = process.argv.slice(2);
const viewport = viewportName === 'phone' ? { width: 390, height: 844 } : { width: 1280, height: 800 };

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'smd-chromium-'));
// a fresh profile each run (playwright passes it as --user-data-dir)
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport,
  acceptDownloads: true,
});
const page = context.pages()[0] ?? await context.newPage();
const result = { dialogs: 0, consoleErrors: [] };
page.on('dialog', async (d) => { result.dialogs++; await d.dismiss(); });
const shot = async (name) => page.screenshot({ path: path.join(shotdir, `${name}-${viewportName}.png`), fullPage: true });

async function readPin(file) {
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(file)) {
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
      if (lines.length) {
        const m = JSON.parse(lines[lines.length - 1]).text.match(/\b(\d{6})\b/);
        if (m) return m[1];
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no SMS arrived');
}

try {
  await page.goto(url);
  if (mode === 'switch') {
    result.before = await page.locator('html').getAttribute('lang');
    await page.getByRole('link', { name: 'Nederlands' }).click();
    await page.getByRole('button', { name: 'Verzenden' }).waitFor();
    result.dutchLang = await page.locator('html').getAttribute('lang');
    result.dutchLabel = await page.getByText('Mobiel nummer', { exact: true }).count();
    await shot('registration-nl');
    await page.reload();
    result.afterReload = await page.locator('html').getAttribute('lang');
    await page.getByRole('link', { name: 'English' }).click();
    await page.getByRole('button', { name: 'Submit' }).waitFor();
    result.back = await page.locator('html').getAttribute('lang');
  } else if (mode === 'register') {
    await shot('registration');
    await page.getByLabel('Mobile number').fill(arg);
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.getByRole('heading', { name: 'Stored' }).waitFor();
    result.stored = true;
    result.text = await page.locator('main').innerText();
    await shot('stored');
  } else {
    await shot('recipient');
    await page.getByRole('button', { name: 'Request pin code' }).click();
    await page.getByLabel('Pin code').waitFor();
    await shot('pin');
    const pin = await readPin(arg);
    await page.getByLabel('Pin code').fill(pin);
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.getByRole('link', { name: 'Download' }).waitFor();
    result.title = await page.locator('h1').innerText();
    result.text = await page.locator('main').innerText();
    const frame = page.locator('iframe.html');
    result.iframeSandbox = await frame.getAttribute('sandbox');
    // let the untrusted HTML load (and try whatever it tries)
    await page.waitForTimeout(1500);
    await shot('message');
    const inFrame = page.frameLocator('iframe.html');
    result.frameText = await inFrame.locator('body').innerText();
    // a link of the mail opens a tab of its own; a javascript: one nothing
    const [popup] = await Promise.all([
      context.waitForEvent('page', { timeout: 10000 }),
      inFrame.getByRole('link', { name: 'a link' }).click(),
    ]);
    await popup.waitForLoadState();
    result.popupUrl = popup.url();
    await popup.close();
    await inFrame.getByRole('link', { name: 'click' }).click();
    await page.waitForTimeout(1000);
    result.pagesAfterJsLink = context.pages().length;
    result.frameAfterLinks = await inFrame.locator('body').innerText();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download' }).click(),
    ]);
    const target = path.join(downloadDir, `download-${viewportName}.eml`);
    await download.saveAs(target);
    result.download = target;
    result.suggestedFilename = download.suggestedFilename();
  }
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e);
  try { await shot('failure'); } catch {}
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
