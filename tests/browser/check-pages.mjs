// Loads each given path of a running Gatelog in Debian's headless chromium and
// fails if a page does not render, logs a console error, fails a request, or has
// any axe-core violation, overflows a 360 px screen, or shows fewer visible
// charts than expected. Usage: node check-pages.mjs BASE_URL SPEC [SPEC ...],
// SPEC = PATH[=Expected title fragment][|minimum number of charts].
// With GATELOG_SCREENSHOTS=DIR, a full-page 360 px screenshot of each page is saved there.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const executablePath = process.env.GATELOG_CHROMIUM || '/usr/bin/chromium';

const [base, ...specs] = process.argv.slice(2);
if (!base || specs.length === 0) {
  console.error('usage: node check-pages.mjs BASE_URL PATH[=TITLE] ...');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

const failures = [];
try {
  for (const spec of specs) {
    // PATH=TITLE|CHARTS, split at the last '|' and then the last '=' so paths may carry query strings.
    const bar = spec.lastIndexOf('|');
    const [pathAndTitle, minCharts] = bar > 0 ? [spec.slice(0, bar), Number(spec.slice(bar + 1))] : [spec, 0];
    const at = pathAndTitle.lastIndexOf('=');
    const [path, expectedTitle] =
      at > 0 ? [pathAndTitle.slice(0, at), pathAndTitle.slice(at + 1)] : [pathAndTitle, undefined];
    // A phone-sized viewport: the site must work at 360 px.
    for (const viewport of [{ width: 360, height: 740 }, { width: 1280, height: 900 }]) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      const problems = [];
      const target = new URL(path, base).href;
      page.on('console', (message) => {
        if (message.type() !== 'error') return;
        // An error page's own status is expected; chromium reports it as a console error.
        const ownStatus = message.location().url === target && message.text().startsWith('Failed to load resource');
        if (!ownStatus) problems.push(`console error: ${message.text()} (${message.location().url})`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`));
      page.on('response', (response) => {
        if (response.status() >= 400 && response.url() !== target) {
          problems.push(`HTTP ${response.status()} for ${response.url()}`);
        }
      });

      const response = await page.goto(target, { waitUntil: 'load' });
      const title = await page.title();
      if (!response) problems.push('no response');
      if (expectedTitle && !title.includes(expectedTitle)) {
        problems.push(`title "${title}" does not contain "${expectedTitle}"`);
      }
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) problems.push(`page is ${overflow}px wider than the ${viewport.width}px viewport`);

      // Charts: inline SVGs with a title, drawn at a readable size, with lines, bars or text inside.
      const charts = await page.evaluate(() => [...document.querySelectorAll('svg[role=img]')].map((svg) => {
        const box = svg.getBoundingClientRect();
        return { width: box.width, height: box.height, marks: svg.querySelectorAll('polyline, path, rect, line, circle').length,
          title: svg.querySelector('title')?.textContent ?? '' };
      }));
      const drawn = charts.filter((c) => c.width >= 250 && c.height >= 120 && c.marks > 3 && c.title.length > 0);
      if (drawn.length < minCharts) {
        problems.push(`${drawn.length} visible charts, expected at least ${minCharts}: ${JSON.stringify(charts)}`);
      }
      if (process.env.GATELOG_SCREENSHOTS && viewport.width === 360) {
        mkdirSync(process.env.GATELOG_SCREENSHOTS, { recursive: true });
        const name = path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'home';
        await page.screenshot({ path: `${process.env.GATELOG_SCREENSHOTS}/${name}-360.png`, fullPage: true });
      }

      // Evaluated through the DevTools protocol, so the page's CSP (no inline
      // script) neither blocks axe nor is loosened for the page itself.
      await page.evaluate(axeSource);
      const violations = await page.evaluate(async () => {
        const result = await globalThis.axe.run(document);
        return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      });
      problems.push(...violations.map((v) => `axe: ${v}`));

      const label = `${path} @${viewport.width}px`;
      if (problems.length === 0) {
        console.log(`ok   ${label} — "${title}"`);
      } else {
        for (const problem of problems) failures.push(`${label}: ${problem}`);
        console.log(`FAIL ${label}`);
      }
      await context.close();
    }
  }
} finally {
  await browser.close();
}

if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log(`${specs.length} pages checked in chromium, no console errors, no axe violations`);
