// The page of `nca export --web` in a real browser: Debian's Chromium, headless, driven by
// playwright-core (which never downloads a browser of its own).
//
//   node web_test.mjs PAGE.html REFERENCE.json [--screenshot OUT.png]
//
// REFERENCE.json comes from nca_reference (tests/export/reference.cpp). Checks: the page opens
// and grows from a seed by itself; its coverage follows the C++ rollout's; one deterministic step
// matches the C++ step within 1e-4; drag erases and the shape regrows; shift-click plants a seed;
// pause, reset and the speed slider work; the cells are drawn crisp; no console error and no
// request beyond the page itself. Prints the steps per second it measured.
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const args = process.argv.slice(2);
const shotAt = args.indexOf("--screenshot");
const screenshot = shotAt >= 0 ? args.splice(shotAt, 2)[1] : null;
const [pagePath, refPath] = args;
if (!pagePath || !refPath) {
  console.error("usage: node web_test.mjs PAGE.html REFERENCE.json [--screenshot OUT.png]");
  process.exit(2);
}
const ref = JSON.parse(readFileSync(refPath, "utf8"));
const pageUrl = pathToFileURL(pagePath).href;

let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) {
    passed++;
    console.log(`ok: ${what}`);
  } else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// What Chromium needs here, as root, with no network: see docs/development.md.
const userDataDir = mkdtempSync(join(tmpdir(), "nca-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.NCA_CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 760, height: 860 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  const requests = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { if (r.url() !== pageUrl && !r.url().startsWith("data:")) requests.push(r.url()); });

  const nca = (fn, arg) => page.evaluate(fn, arg);
  const stepsNow = () => nca(() => window.nca.steps);
  async function waitSteps(n, timeoutMs = 30000) {
    await page.waitForFunction((k) => window.nca.steps >= k, n, { timeout: timeoutMs, polling: 50 });
  }
  const cellCentre = async (x, y) => {
    const box = await page.locator("#board").boundingBox();
    return [box.x + ((x + 0.5) / ref.width) * box.width, box.y + ((y + 0.5) / ref.height) * box.height];
  };

  await page.goto(pageUrl);
  // ---- It starts growing from a seed on its own ------------------------------------------------
  await page.waitForFunction(() => window.nca && window.nca.steps > 0, null, { timeout: 10000 });
  const spec = await nca(() => window.nca.spec);
  check(spec.width === ref.width && spec.height === ref.height && spec.channels === ref.channels,
        `page grid ${spec.width}x${spec.height}x${spec.channels} is the reference's`);

  // ---- One deterministic step: the page computes what LibTorch computes -----------------------
  await nca(() => window.nca.pause());
  for (const c of ref.cases) {
    const got = await nca((s) => { window.nca.setState(s); window.nca.step(1, true); return window.nca.getState(); }, c.state);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - c.next[i]));
    const alive = c.next.filter((v, i) => i >= 3 * ref.height * ref.width && i < 4 * ref.height * ref.width && v > ref.alive_threshold).length;
    check(worst <= 1e-4, `deterministic step from the ${c.name} state (${alive} alive cells): max |page - C++| = ${worst.toExponential(2)} <= 1e-4`);
  }

  // ---- Grows like the C++ rollout --------------------------------------------------------------
  await page.click("#reset");
  check((await stepsNow()) === 0, "Reset puts the step counter back to 0");
  await page.locator("#speed").fill("7");  // flat out: a loaded machine still gets there soon
  await nca(() => window.nca.pause(false));
  const growSteps = Math.min(200, ref.coverage.length - 1);
  await waitSteps(growSteps);
  await nca(() => window.nca.pause());
  const grownAt = await stepsNow();
  const grown = await nca(() => window.nca.coverage());
  const expected = ref.coverage[Math.min(grownAt, ref.coverage.length - 1)];
  console.log(`coverage at step ${grownAt}: page ${grown.toFixed(4)}, C++ rollout ${expected.toFixed(4)} (seed ${ref.coverage[0].toFixed(4)})`);
  check(grown > 10 * ref.coverage[0], "the shape grew from the seed");
  check(Math.abs(grown - expected) <= 0.1 * expected + 0.005,
        `coverage within 10% of the C++ rollout's at the same step`);
  check((await page.locator("#steps").textContent()).trim() === String(grownAt),
        "the step counter shows the step count");

  // The canvas shows the state, upscaled with crisp pixels: every cell is a uniform block.
  const drawn = await nca(() => {
    const board = document.getElementById("board");
    const { width: w, height: h } = window.nca.spec;
    const s = board.width / w;
    const px = board.getContext("2d").getImageData(0, 0, board.width, board.height).data;
    let blurred = 0, coloured = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = (yy, xx) => ((y * s + yy) * board.width + (x * s + xx)) * 4;
        const a = at(0, 0);
        if (px[a] < 250 || px[a + 1] < 250 || px[a + 2] < 250) coloured++;
        for (let k = 0; k < 3; k++) if (px[a + k] !== px[at(s - 1, s - 1) + k] || px[a + k] !== px[at(s >> 1, 1) + k]) blurred++;
      }
    }
    return { scale: s, blurred, coloured: coloured / (w * h), css: getComputedStyle(board).imageRendering };
  });
  check(drawn.scale >= 4 && drawn.blurred === 0, `cells drawn as crisp ${drawn.scale}x${drawn.scale} blocks (image-rendering: ${drawn.css})`);
  check(drawn.coloured > 0.5 * grown, `the canvas shows the shape (${(100 * drawn.coloured).toFixed(1)}% of cells coloured)`);

  // ---- Speed: flat out, then the slider's slow end ----------------------------------------------
  await page.locator("#speed").fill("7");
  check((await page.locator("#speed-value").textContent()).trim() === "max", "speed slider at max reads 'max'");
  await nca(() => window.nca.pause(false));
  await sleep(500);
  let t0 = Date.now(), s0 = await stepsNow();
  await sleep(2000);
  const maxRate = ((await stepsNow()) - s0) / ((Date.now() - t0) / 1000);
  await page.locator("#speed").fill("5");
  await sleep(500);
  t0 = Date.now();
  s0 = await stepsNow();
  await sleep(1500);
  const defaultRate = ((await stepsNow()) - s0) / ((Date.now() - t0) / 1000);
  console.log(`throughput on ${ref.width}x${ref.height} (grown shape, fire rate ${spec.fireRate}): ` +
              `${maxRate.toFixed(1)} steps/s flat out; ${defaultRate.toFixed(1)} steps/s at the default setting (60)`);
  // Not a benchmark: only a bound far below what this page does, so a loaded machine passes.
  check(maxRate >= 15, `flat out at least 15 steps/s (measured ${maxRate.toFixed(1)})`);
  await page.locator("#speed").fill("2");
  check((await page.locator("#speed-value").textContent()).trim() === "10 steps/s", "speed slider label follows");
  await sleep(300);
  s0 = await stepsNow();
  await sleep(1500);
  const slow = (await stepsNow()) - s0;
  check(slow >= 5 && slow <= 25, `at 10 steps/s, ${slow} steps in 1.5 s`);
  await page.locator("#speed").fill("7");

  // ---- Pause ---------------------------------------------------------------------------------
  await page.click("#pause");
  check(await nca(() => window.nca.paused), "Pause pauses");
  check((await page.locator("#pause").textContent()).trim() === "Resume", "the button then reads Resume");
  s0 = await stepsNow();
  await sleep(400);
  check((await stepsNow()) === s0, "no steps while paused");
  await page.click("#pause");
  await sleep(400);
  check((await stepsNow()) > s0, "Resume resumes");

  // ---- Erase with a drag across the middle, and regrow -----------------------------------------
  await page.click("#pause");
  const before = await nca(() => window.nca.coverage());
  const cy = ref.height >> 1, x0 = (ref.width >> 1) - 12, x1 = (ref.width >> 1) + 12;
  const [ax, ay] = await cellCentre(x0, cy);
  const [bx, by] = await cellCentre(x1, cy);
  await page.mouse.move(ax, ay);
  await page.mouse.down();
  await page.mouse.move(bx, by, { steps: 12 });
  await page.mouse.up();
  const afterCut = await nca(() => window.nca.coverage());
  const stroke = await nca(([a, b, y]) => {
    const s = window.nca.getState(), { width: w, height: h } = window.nca.spec;
    let nonzero = 0;
    for (let x = a; x <= b; x++) for (let c = 0; c < s.length / (w * h); c++) if (s[c * w * h + y * w + x] !== 0) nonzero++;
    return nonzero;
  }, [x0, x1, cy]);
  console.log(`erase: coverage ${before.toFixed(4)} -> ${afterCut.toFixed(4)}`);
  check(stroke === 0, "every cell under the drag is zero");
  check(afterCut < 0.9 * before, "the drag erased a good part of the shape (10% or more)");
  const cutAt = await stepsNow();
  await page.click("#pause");
  await waitSteps(cutAt + 300);
  await nca(() => window.nca.pause());
  const regrown = await nca(() => window.nca.coverage());
  console.log(`regrow: coverage ${regrown.toFixed(4)} after 300 steps (before the cut ${before.toFixed(4)})`);
  check(Math.abs(regrown - before) <= 0.15 * before, "it regrew to within 15% of the coverage before the cut");

  // ---- A click erases; shift-click plants a seed -------------------------------------------------
  const [sx, sy] = await cellCentre(4, 4);
  await page.mouse.click(sx, sy);
  const wasEmpty = await nca(() => {
    const s = window.nca.getState(), { width: w, height: h, eraseRadius: r } = window.nca.spec;
    for (let c = 0; c < s.length / (w * h); c++)
      for (let y = 0; y <= 4 + r - 1; y++)
        for (let x = 0; x <= 4 + r - 1; x++)
          if ((x - 4) ** 2 + (y - 4) ** 2 <= r * r && s[c * w * h + y * w + x] !== 0) return false;
    return true;
  });
  check(wasEmpty, "a click erases a disc of cells");
  await page.keyboard.down("Shift");
  await page.mouse.click(sx, sy);
  await page.keyboard.up("Shift");
  const seeded = await nca(() => {
    const s = window.nca.getState(), { width: w, height: h, channels } = window.nca.spec;
    const v = [];
    for (let c = 0; c < channels; c++) v.push(s[c * w * h + 4 * w + 4]);
    return v;
  });
  check(seeded.every((v, c) => v === (c >= 3 ? 1 : 0)), "shift-click plants a seed (cell 4,4: channels 3.. = 1)");

  if (screenshot) {
    // The picture for docs/usage.md: the grown shape at the default speed, a bite just taken out
    // of it with a drag, regrowing.
    await page.locator("#speed").fill("5");
    await page.click("#reset");
    await nca(() => window.nca.pause(false));
    await waitSteps(250);
    const [px, py] = await cellCentre((ref.width >> 1) + 4, (ref.height >> 1) - 12);
    await page.mouse.move(px, py);
    await page.mouse.down();
    await page.mouse.move(px + 40, py + 40, { steps: 6 });
    await page.mouse.up();
    await sleep(300);
    const box = await page.locator("main").boundingBox();
    await page.screenshot({ path: screenshot, clip: { x: box.x - 16, y: box.y - 16, width: box.width + 32, height: box.height + 32 } });
    console.log(`wrote ${screenshot}`);
  }

  check(errors.length === 0, `no console errors${errors.length ? ": " + errors.join(" | ") : ""}`);
  check(requests.length === 0, `no requests beyond the page itself${requests.length ? ": " + requests.join(" ") : ""}`);
} catch (e) {
  failed++;
  console.log(`FAIL: ${e.message.split("\n")[0]}`);
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
