// Drives the ragway widget in Debian's Chromium (headless) on a host page served by the Rust test
// (tests/tests/widget_browser.rs), and prints one JSON object of observations for it to assert on.
// Environment: PAGE_URL (a page on an allowed origin), BLOCKED_URL (the same page on an origin the
// widget key does not allow), ARTIFACTS (directory for screenshots), CHROMIUM (default /usr/bin/chromium).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  console.log(JSON.stringify({ fatal: `playwright-core is not installed (run scripts/test, or npm ci in tests/browser): ${err.message}` }));
  process.exit(0);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(JSON.stringify({ fatal: `no Chromium at ${executablePath} (run scripts/test, or apt-get install chromium)` }));
  process.exit(0);
}
const pageUrl = process.env.PAGE_URL;
const blockedUrl = process.env.BLOCKED_URL;
const artifacts = process.env.ARTIFACTS || '.';
mkdirSync(artifacts, { recursive: true });

const out = { checks: {}, console_errors: [], dialogs: [] };
const check = (name, value) => { out.checks[name] = value; };
const TIMEOUT = 20000;

// Helpers reading the widget's shadow root from the page.
const shadowEval = (page, fn, arg) => page.evaluate(
  ([source, a]) => {
    const root = document.querySelector('#ragway-widget').shadowRoot;
    return new Function('root', 'arg', source)(root, a);
  },
  [fn, arg],
);
const activeId = (page) => shadowEval(page, 'const a = root.activeElement; return a ? (a.id || a.className) : null;');
const answers = (page) => page.locator('#ragway-widget .log .message.assistant[data-message-id]');

// Every context has an explicit locale (navigator.language and Accept-Language follow it), so the
// widget's language does not depend on the machine's.
async function newPage(browser, viewport, locale = 'en-US') {
  const context = await browser.newContext({ viewport, locale });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
  page.on('pageerror', (e) => out.console_errors.push(String(e)));
  page.on('dialog', async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
  return { context, page };
}

async function ask(page, question) {
  const before = await answers(page).count();
  const input = page.locator('#ragway-widget textarea');
  await input.fill(question);
  await input.press('Enter');
  await answers(page).nth(before).waitFor({ timeout: TIMEOUT });
  return answers(page).nth(before);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  // 1. Desktop: open, ask, watch it stream, follow a citation, rate it.
  {
    const { context, page } = await newPage(browser, { width: 1280, height: 800 });
    await page.goto(pageUrl);
    const launcher = page.locator('#ragway-widget button.launcher');
    await launcher.waitFor({ timeout: TIMEOUT });
    check('host_css_does_not_leak', await launcher.evaluate((b) => getComputedStyle(b).backgroundColor !== 'rgb(255, 105, 180)'));
    await launcher.click();
    check('opened', await launcher.getAttribute('aria-expanded'));
    check('focus_after_open', await activeId(page));
    check('log_role', await page.locator('#ragway-widget .log').getAttribute('role'));
    const input = page.locator('#ragway-widget textarea');
    await input.fill('How do I connect to the VPN?');
    await input.press('Enter');
    // While the answer streams it is drawn outside the log (not announced), then moved into it.
    const partial = page.locator('#ragway-widget .draft .streaming p:not(.typing)');
    await partial.first().waitFor({ timeout: TIMEOUT });
    check('streamed_partial_text', (await partial.first().textContent()).length > 0);
    check('log_answers_while_streaming', await answers(page).count());
    check('log_busy_while_streaming', await page.locator('#ragway-widget .log').getAttribute('aria-busy'));
    const answer = answers(page).first();
    await answer.waitFor({ timeout: TIMEOUT });
    check('answer_text', await answer.locator('.bubble').textContent());
    check('draft_empty_after', await page.locator('#ragway-widget .draft').evaluate((d) => d.children.length));
    check('citation_links', await answer.locator('a.cite').count());
    check('sources_listed', await answer.locator('.sources li').allTextContents());
    await answer.locator('a.cite').first().click();
    check('citation_target_focused', await activeId(page));
    check('citation_target_expected', await answer.locator('a.cite').first().getAttribute('href'));
    await answer.locator('button.rate.up').click();
    await page.locator('#ragway-widget .log button.rate.up[aria-pressed="true"]').waitFor({ timeout: TIMEOUT });
    check('rated_up', true);
    check('message_id', await answer.getAttribute('data-message-id'));
    await page.screenshot({ path: join(artifacts, 'widget-desktop.png') });

    // 2. A reload keeps the conversation (sessionStorage) and the open panel.
    await page.reload();
    await answers(page).first().waitFor({ timeout: TIMEOUT });
    check('after_reload_messages', await page.locator('#ragway-widget .log .message:not(.greeting)').count());
    check('after_reload_answer', await answers(page).first().locator('.bubble').textContent());
    check('after_reload_rating_kept', await answers(page).first().locator('button.rate.up').getAttribute('aria-pressed'));
    // A follow-up continues the same server-side conversation.
    const followUp = await ask(page, 'and which port does it use?');
    check('follow_up_answered', (await followUp.locator('.bubble').textContent()).length > 0);

    // 3. Hostile text: a document title with <img onerror> and an answer with <script> stay text.
    const hostile = await ask(page, 'What are the zebracorn visitor badge rules?');
    check('xss_answer_text', await hostile.locator('.bubble').textContent());
    check('xss_source_titles', await hostile.locator('.sources li').allTextContents());
    check('xss_elements_in_widget', await shadowEval(page, 'return root.querySelectorAll(".log script, .log img, .log iframe, .log [onerror]").length;'));
    check('xss_flag', await page.evaluate(() => window.__xss === undefined ? null : window.__xss));
    await page.screenshot({ path: join(artifacts, 'widget-xss.png') });
    await context.close();
  }

  // 4. Keyboard only: Tab to the launcher, Enter opens, Enter sends, Esc closes and returns focus.
  {
    const { context, page } = await newPage(browser, { width: 1280, height: 800 });
    await page.goto(pageUrl);
    await page.locator('#ragway-widget button.launcher').waitFor({ timeout: TIMEOUT });
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await activeId(page)) === 'launcher';
    }
    check('kbd_reached_launcher', reached);
    check('kbd_focus_visible', await shadowEval(page, 'const a = root.activeElement; return a ? getComputedStyle(a).outlineStyle : null;'));
    await page.keyboard.press('Enter');
    check('kbd_focus_in_input', await activeId(page));
    await page.keyboard.type('How many vacation days do I get?');
    await page.keyboard.press('Enter');
    await answers(page).first().waitFor({ timeout: TIMEOUT });
    check('kbd_answered', (await answers(page).first().locator('.bubble').textContent()).length > 0);
    check('anonymous_hr_sources', await answers(page).first().locator('.sources li').allTextContents());
    await page.keyboard.press('Escape');
    check('kbd_closed', await page.locator('#ragway-widget button.launcher').getAttribute('aria-expanded'));
    check('kbd_focus_returned', await activeId(page));
    await context.close();
  }

  // 5. 320 px wide: the panel takes the whole screen and nothing overflows sideways.
  {
    const { context, page } = await newPage(browser, { width: 320, height: 640 });
    await page.goto(pageUrl);
    await page.locator('#ragway-widget button.launcher').click({ timeout: TIMEOUT });
    await ask(page, 'How do I submit an expense report?');
    const box = await page.locator('#ragway-widget .panel').boundingBox();
    check('small_panel_box', box);
    check('small_no_horizontal_overflow', await shadowEval(page, 'const s = root.querySelector(".scroller"); return s.scrollWidth <= s.clientWidth;'));
    check('small_input_font_px', await page.locator('#ragway-widget textarea').evaluate((t) => getComputedStyle(t).fontSize));
    await page.screenshot({ path: join(artifacts, 'widget-320.png') });
    await context.close();
  }

  // 6. An employee identified by the intranet's signed JWT sees what their groups may see.
  if (process.env.IDENTITY_JWT) {
    const { context, page } = await newPage(browser, { width: 1280, height: 800 });
    await page.goto(pageUrl);
    await page.locator('#ragway-widget button.launcher').waitFor({ timeout: TIMEOUT });
    await page.evaluate((token) => window.Ragway('identify', { token }), process.env.IDENTITY_JWT);
    await page.locator('#ragway-widget button.launcher').click();
    const answer = await ask(page, 'How many vacation days do I get?');
    check('identified_sources', await answer.locator('.sources li').allTextContents());
    await context.close();
  }

  // 7. Languages: `data-lang` wins over the browser's; without it the browser's locale decides.
  const withLang = (lang) => pageUrl + (pageUrl.includes('?') ? '&' : '?') + 'lang=' + encodeURIComponent(lang);
  const uiStrings = async (page) => ({
    lang: await page.locator('#ragway-widget').getAttribute('lang'),
    panel_lang: await page.locator('#ragway-widget .panel').getAttribute('lang'),
    placeholder: await page.locator('#ragway-widget textarea').getAttribute('placeholder'),
    send: await page.locator('#ragway-widget button.send').getAttribute('aria-label'),
    reset: await page.locator('#ragway-widget header button.icon').first().getAttribute('aria-label'),
    launcher: await page.locator('#ragway-widget button.launcher').getAttribute('aria-label'),
    greeting: await page.locator('#ragway-widget .log .greeting').textContent(),
    notice: await page.locator('#ragway-widget .notice').textContent(),
  });
  // The Accept-Language of the widget's chat requests.
  const chatLanguages = (page) => {
    const seen = [];
    page.on('request', (r) => { if (r.url().endsWith('/widget/v1/chat') && r.method() === 'POST') seen.push(r.headers()['accept-language'] || null); });
    return seen;
  };
  for (const [name, url, locale] of [
    ['es_data_lang', withLang('es-MX'), 'en-US'],
    ['es_locale', pageUrl, 'es-MX'],
    ['en_locale', pageUrl, 'en-US'],
    ['en_data_lang', withLang('en'), 'es-MX'],
  ]) {
    const { context, page } = await newPage(browser, { width: 1280, height: 800 }, locale);
    const languages = chatLanguages(page);
    await page.goto(url);
    await page.locator('#ragway-widget button.launcher').click({ timeout: TIMEOUT });
    const strings = await uiStrings(page);
    const answer = await ask(page, name.startsWith('es')
      ? '¿Cuánto dura como máximo una sesión de la VPN NorthGate?'
      : 'How do I connect to the VPN?');
    strings.sources_heading = await answer.locator('.sources-title').textContent();
    strings.copy = await answer.locator('button.copy').getAttribute('aria-label');
    strings.accept_language = languages[0] === undefined ? null : languages[0];
    check(name, strings);
    if (name === 'es_data_lang') await page.screenshot({ path: join(artifacts, 'widget-es.png') });
    if (name === 'es_locale') {
      // Offline: the widget's own words, in the UI's language.
      await context.setOffline(true);
      await page.locator('#ragway-widget textarea').fill('¿Sigue ahí?');
      await page.locator('#ragway-widget textarea').press('Enter');
      const offline = page.locator('#ragway-widget .log .message.assistant .error');
      await offline.waitFor({ timeout: TIMEOUT });
      strings.offline_error = await offline.textContent();
      check(name, strings);
    }
    await context.close();
  }

  // 8. A page on an origin the key does not allow gets no session, so no answer.
  {
    const { context, page } = await newPage(browser, { width: 1280, height: 800 });
    await page.goto(blockedUrl);
    await page.locator('#ragway-widget button.launcher').click({ timeout: TIMEOUT });
    const input = page.locator('#ragway-widget textarea');
    await input.fill('How do I connect to the VPN?');
    await input.press('Enter');
    const refused = page.locator('#ragway-widget .log .message.assistant .error');
    await refused.waitFor({ timeout: TIMEOUT });
    check('blocked_error_shown', await refused.textContent());
    check('blocked_answers', await answers(page).count());
    await context.close();
  }
} catch (err) {
  out.fatal = String(err && err.stack || err);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
