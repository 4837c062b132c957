// Loads each given path of a running Gatelog in Debian's headless chromium at a
// phone (360 px) and a desktop (1280 px) width and fails if a page does not
// render, logs a console error, fails a request, has any axe-core violation,
// scrolls sideways at 360 px, shows fewer visible charts than expected, draws
// chart text smaller than 11 CSS px, or has a table row taller than about three
// lines at 360 px. For each page and width it prints the smallest chart text and
// the tallest table row, so the log carries the figures a reader would notice.
// Usage: node check-pages.mjs BASE_URL SPEC [SPEC ...],
// SPEC = PATH[=Expected title fragment][|minimum number of charts].
// With GATELOG_SCREENSHOTS=DIR, full-page screenshots are saved there as
// <page>-360.png and <page>-1280.png.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const executablePath = process.env.GATELOG_CHROMIUM || '/usr/bin/chromium';

// Issue 18: chart text a reader can read on a phone, and table rows that stay compact there.
const MIN_CHART_TEXT_PX = 11;
const MAX_ROW_LINES = 3.5;

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

const screenshots = process.env.GATELOG_SCREENSHOTS;
if (screenshots) mkdirSync(screenshots, { recursive: true });
const shotNames = new Map();

const failures = [];
try {
  for (const spec of specs) {
    // PATH=TITLE|CHARTS, split at the last '|' and then the last '=' so paths may carry query strings.
    const bar = spec.lastIndexOf('|');
    const [pathAndTitle, minCharts] = bar > 0 ? [spec.slice(0, bar), Number(spec.slice(bar + 1))] : [spec, 0];
    const at = pathAndTitle.lastIndexOf('=');
    const [path, expectedTitle] =
      at > 0 ? [pathAndTitle.slice(0, at), pathAndTitle.slice(at + 1)] : [pathAndTitle, undefined];
    const name = path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'home';
    if (shotNames.has(name)) failures.push(`${path}: screenshot name "${name}" is also ${shotNames.get(name)}'s`);
    shotNames.set(name, path);
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
      // The narrowest phones too: nothing may scroll sideways at 320 px (issue 18).
      if (viewport.width === 360) {
        await page.setViewportSize({ width: 320, height: viewport.height });
        const narrow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (narrow > 1) problems.push(`page is ${narrow}px wider than a 320px viewport`);
        await page.setViewportSize(viewport);
      }

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
      if (screenshots) {
        await page.screenshot({ path: `${screenshots}/${name}-${viewport.width}.png`, fullPage: true });
      }

      const texts = await page.evaluate(chartTexts);
      const smallest = texts.reduce((min, t) => (min && min.size <= t.size ? min : t), undefined);
      const tooSmall = texts.filter((t) => t.size < MIN_CHART_TEXT_PX).sort((x, y) => x.size - y.size);
      if (tooSmall.length > 0) {
        const shown = tooSmall.slice(0, 5).map((t) => `"${t.text}" ${t.size.toFixed(1)}px`).join(', ');
        problems.push(`${tooSmall.length} chart texts below ${MIN_CHART_TEXT_PX}px, smallest: ${shown}`);
      }

      const rows = await page.evaluate(tableRows);
      const tallest = rows.reduce((max, r) => (max && max.lines >= r.lines ? max : r), undefined);
      if (viewport.width === 360) {
        const tooTall = rows.filter((r) => r.lines > MAX_ROW_LINES).sort((x, y) => y.lines - x.lines);
        if (tooTall.length > 0) {
          const shown = tooTall.slice(0, 5)
            .map((r) => `"${r.text}" ${r.height.toFixed(0)}px = ${r.lines.toFixed(1)} lines`).join(', ');
          problems.push(`${tooTall.length} table rows taller than ${MAX_ROW_LINES} lines, tallest: ${shown}`);
        }
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
      const figures = [
        smallest ? `smallest chart text ${smallest.size.toFixed(1)}px ("${smallest.text}")` : 'no chart text',
        tallest ? `tallest row ${tallest.lines.toFixed(1)} lines ("${tallest.text}")` : 'no table rows',
      ].join(', ');
      if (problems.length === 0) {
        console.log(`ok   ${label} — "${title}" — ${figures}`);
      } else {
        for (const problem of problems) failures.push(`${label}: ${problem}`);
        console.log(`FAIL ${label} — "${title}" — ${figures}`);
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
console.log(`${specs.length} pages checked in chromium at 360 and 1280 px: no console errors, no axe violations, `
  + `chart text at least ${MIN_CHART_TEXT_PX}px, table rows at most ${MAX_ROW_LINES} lines at 360 px`);

// Run in the page. Every visible text of an inline chart, with the size it is drawn
// at in CSS px: its font size in the drawing's user units times the drawing's scale
// on screen (the text's own CTM, so a rotated label counts at its full size).
function chartTexts() {
  const visible = (el) => el.checkVisibility({ visibilityProperty: true });
  const texts = [];
  for (const svg of document.querySelectorAll('svg[role=img]')) {
    if (!visible(svg)) continue;
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || !visible(text)) continue;
      const ctm = text.getScreenCTM();
      const computed = parseFloat(getComputedStyle(text).fontSize);
      const fontSize = Number.isFinite(computed) ? computed : parseFloat(text.getAttribute('font-size'));
      texts.push({ size: fontSize * Math.hypot(ctm.a, ctm.b), text: text.textContent.trim().slice(0, 40) });
    }
  }
  return texts;
}

// Run in the page. Every visible table row's height in lines of text: the row's
// height less a cell's vertical padding and borders, over that cell's line height,
// taking the cell that makes the row shortest (so a row is only "tall" when it is
// tall for every cell in it).
function tableRows() {
  const lineHeight = (style) => {
    const fontSize = parseFloat(style.fontSize);
    if (style.lineHeight === 'normal') return 1.2 * fontSize;
    return style.lineHeight.endsWith('px') ? parseFloat(style.lineHeight) : parseFloat(style.lineHeight) * fontSize;
  };
  const rows = [];
  for (const tr of document.querySelectorAll('tr')) {
    const { height } = tr.getBoundingClientRect();
    if (height === 0 || tr.cells.length === 0 || !tr.checkVisibility({ visibilityProperty: true })) continue;
    let lines = Infinity;
    for (const cell of tr.cells) {
      const style = getComputedStyle(cell);
      const extra = ['paddingTop', 'paddingBottom', 'borderTopWidth', 'borderBottomWidth']
        .reduce((sum, side) => sum + (parseFloat(style[side]) || 0), 0);
      lines = Math.min(lines, (height - extra) / lineHeight(style));
    }
    rows.push({ height, lines, text: tr.cells[0].textContent.trim().replace(/\s+/g, ' ').slice(0, 50) });
  }
  return rows;
}
