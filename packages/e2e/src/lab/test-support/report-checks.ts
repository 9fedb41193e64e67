/** What a report page must show, checked in a real browser: the whole drawing, and the failures. */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const rectOf = (page: Page, selector: string): Promise<Rect[]> =>
  page.$$eval(selector, (els) =>
    els.map((e) => {
      const r = e.getBoundingClientRect();
      // (runs in the page: its window, not a Node global)
      const w = globalThis as unknown as { scrollX: number; scrollY: number };
      return { x: r.x + w.scrollX, y: r.y + w.scrollY, width: r.width, height: r.height };
    }),
  );

const inside = (r: Rect, outer: Rect) =>
  r.x >= outer.x - 1 &&
  r.y >= outer.y - 1 &&
  r.x + r.width <= outer.x + outer.width + 1 &&
  r.y + r.height <= outer.y + outer.height + 1;

/** Every node (host or gateway) is a box inside the drawing, none on top of another; every link a line with a label. */
export async function expectDrawingShows(page: Page, nodes: string[], links: string[]): Promise<void> {
  const [svg] = await rectOf(page, 'svg.topology');
  expect(svg, 'no topology drawing').toBeDefined();
  const drawing = svg as Rect;
  expect(drawing.width).toBeGreaterThan(300);
  const boxes: Rect[] = [];
  for (const n of nodes) {
    const [box] = await rectOf(page, `svg.topology [data-host="${n}"] > rect`);
    expect(box, `node ${n} is not drawn`).toBeDefined();
    expect((box as Rect).width * (box as Rect).height, `node ${n} has no area`).toBeGreaterThan(1000);
    expect(inside(box as Rect, drawing), `node ${n} lies outside the drawing`).toBe(true);
    const name = await page.textContent(`svg.topology [data-host="${n}"] .node-name`);
    expect(name).toContain(n);
    for (const other of boxes) {
      const overlap = !(
        (box as Rect).x + (box as Rect).width <= other.x ||
        other.x + other.width <= (box as Rect).x ||
        (box as Rect).y + (box as Rect).height <= other.y ||
        other.y + other.height <= (box as Rect).y
      );
      expect(overlap, `node ${n} overlaps another node`).toBe(false);
    }
    boxes.push(box as Rect);
  }
  for (const id of links) {
    const [line] = await rectOf(page, `svg.topology g.link[data-link="${id}"] > line`);
    expect(line, `link ${id} is not drawn`).toBeDefined();
    expect((line as Rect).height, `link ${id} has no length`).toBeGreaterThan(20);
    expect(inside(line as Rect, drawing), `link ${id} lies outside the drawing`).toBe(true);
    const label = (await page.textContent(`svg.topology g.link[data-link="${id}"] .link-label`)) ?? '';
    expect(label.trim().length, `link ${id} has no label`).toBeGreaterThan(0);
  }
  const drawn = await page.$$eval('svg.topology [data-host]', (els) =>
    els.map((e) => e.getAttribute('data-host')),
  );
  expect(new Set(drawn)).toEqual(new Set(nodes));
}

/** The failed expectation is listed among the failures, visible without scrolling. */
export async function expectFailureVisible(page: Page, title: string): Promise<void> {
  const item = page.locator('#failures .expectation.failed', { hasText: title });
  expect(await item.count(), `no failure item for ${title}`).toBe(1);
  expect(await item.isVisible()).toBe(true);
  const box = await item.boundingBox();
  const viewport = page.viewportSize();
  expect(
    box && viewport && box.y + box.height <= viewport.height,
    `${title} is not in the first screen`,
  ).toBe(true);
  expect(await page.textContent('#verdict')).toBe('FAIL');
}
